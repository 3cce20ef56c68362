import pytest

from opskit.errors import InputError, ParameterError
from opskit.parameters import load_parameter_file, parse_parameters_cell, validate_parameters

CELL = """\
slo_ms: float = 500.0  # latency objective in milliseconds
window: int = 7  # days
path: str = "sample:requests_week"  # request log
strict: bool = False  # fail on warnings
features: list = []  # columns to check
mapping: dict = {}  # column renames
model_version: str | None = None  # only this version
incident_dir: str = None  # required: the incident folder
"""


def test_parse_reads_types_defaults_help_and_required():
    params = {p.name: p for p in parse_parameters_cell(CELL)}
    assert params["slo_ms"].type == "float" and params["slo_ms"].default == 500.0
    assert params["slo_ms"].help == "latency objective in milliseconds"
    assert params["model_version"].optional and not params["model_version"].required
    assert params["incident_dir"].required
    assert params["features"].base_type == "list"


def test_parse_refuses_code():
    with pytest.raises(ParameterError) as err:
        parse_parameters_cell("x: int = __import__('os').getpid()  # no")
    assert err.value.name == "x"
    with pytest.raises(ParameterError):
        parse_parameters_cell("import os")


def test_text_values_are_converted_by_type():
    params = parse_parameters_cell(CELL)
    values = validate_parameters(
        params,
        {
            "slo_ms": "250",
            "window": "14",
            "strict": "yes",
            "features": "a, b",
            "mapping": "{x: y}",
            "model_version": "none",
            "incident_dir": "/tmp/inc",
        },
    )
    assert values == {
        "slo_ms": 250.0,
        "window": 14,
        "strict": True,
        "features": ["a", "b"],
        "mapping": {"x": "y"},
        "model_version": None,
        "incident_dir": "/tmp/inc",
    }


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ({"window": "seven", "incident_dir": "x"}, "window"),
        ({"strict": "maybe", "incident_dir": "x"}, "strict"),
        ({"slo_ms": True, "incident_dir": "x"}, "slo_ms"),
        ({"features": "[a, b", "incident_dir": "x"}, "features"),
        ({"mapping": "[1, 2]", "incident_dir": "x"}, "mapping"),
    ],
)
def test_wrong_type_names_the_parameter(given, name):
    with pytest.raises(ParameterError) as err:
        validate_parameters(parse_parameters_cell(CELL), given)
    assert err.value.name == name and err.value.hint.startswith(f"e.g. -p {name}")


def test_unknown_name_suggests_the_closest():
    with pytest.raises(ParameterError) as err:
        validate_parameters(parse_parameters_cell(CELL), {"slo_sm": "1", "incident_dir": "x"})
    assert err.value.name == "slo_sm" and "'slo_ms'" in err.value.hint


def test_missing_required_value():
    with pytest.raises(ParameterError) as err:
        validate_parameters(parse_parameters_cell(CELL), {"window": 3})
    assert err.value.name == "incident_dir"


def test_typed_values_from_python_or_yaml():
    values = validate_parameters(parse_parameters_cell(CELL), {"slo_ms": 300, "incident_dir": "d", "features": ("a",)})
    assert values["slo_ms"] == 300.0 and isinstance(values["slo_ms"], float) and values["features"] == ["a"]


def test_parameter_file(tmp_path):
    good = tmp_path / "p.yaml"
    good.write_text("slo_ms: 250\nfeatures: [a, b]\n")
    assert load_parameter_file(str(good)) == {"slo_ms": 250, "features": ["a", "b"]}
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\nb: 3\n")
    with pytest.raises(InputError) as err:
        load_parameter_file(str(bad))
    assert err.value.path == str(bad) and err.value.line is not None
    with pytest.raises(InputError):
        load_parameter_file(str(tmp_path / "missing.yaml"))
