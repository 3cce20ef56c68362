import pytest

from opskit.errors import InputError, ParameterError
from opskit.parameters import load_parameter_file, parse_parameters_cell, validate_parameters, value_rules

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


CHOICES_CELL = """\
from typing import Literal

pricing: Literal["on_demand", "reserved_1y", "reserved_3y", "spot"] = "on_demand"  # what you pay
unit: Literal["ms", "s", "us"] | None = None  # latency unit
level: Literal[1, 2, 3] = 2  # how much to show
quantile: float = 0.95  # the quantile (> 0 and < 1)
ranks: int = 8  # ranks per node (>= 1)
share: float = 50.0  # a share (0 to 100)
hot_pct: float = 85.0  # hot above this (%)
"""


def _params(cell: str = CHOICES_CELL) -> dict:
    return {p.name: p for p in parse_parameters_cell(cell)}


def test_literal_annotations_declare_choices_and_their_type():
    params = _params()
    assert params["pricing"].choices == ("on_demand", "reserved_1y", "reserved_3y", "spot")
    assert params["pricing"].base_type == "str" and not params["pricing"].optional
    assert params["unit"].choices == ("ms", "s", "us") and params["unit"].optional
    assert params["level"].choices == (1, 2, 3) and params["level"].base_type == "int"
    assert params["quantile"].choices == ()
    # normalized as Python keeps a run() signature's annotation text
    assert params["pricing"].type == "Literal['on_demand', 'reserved_1y', 'reserved_3y', 'spot']"


def test_the_cell_may_import_from_typing_only():
    assert [p.name for p in parse_parameters_cell("from typing import Literal, Optional\nx: int = 1  # x")] == ["x"]
    for code in ("from os import path", "from typing import cast", "import typing"):
        with pytest.raises(ParameterError):
            parse_parameters_cell(code + "\nx: int = 1  # x")


@pytest.mark.parametrize(
    ("cell", "says"),
    [
        ('mode: Literal["a", "b"] = "c"  # mode', "not one of its choices"),
        ('mode: Literal["a", 1] = "a"  # mode', "of one kind"),
        ("mode: Literal[print] = 1  # mode", "literal values only"),
        ('name: str = "x"  # a name (> 0)', "not a number"),
        ("n: int = 1  # count (> zero)", "is not a range"),
        ("n: int = 1  # count (10 to 1)", "empty"),
        ("n: int = 1  # count (> 1 and > 2)", "two lower bounds"),
    ],
)
def test_mistakes_in_a_declaration_are_refused_when_the_cell_is_read(cell, says):
    with pytest.raises(ParameterError) as err:
        parse_parameters_cell(cell)
    assert says in err.value.message and err.value.name == cell.split(":")[0]


@pytest.mark.parametrize(
    ("given", "close"),
    [("ondemand", "on_demand"), ("Spot", "spot"), ("reserved-1y", "reserved_1y"), ("zzz", None)],
)
def test_a_value_not_among_the_choices_lists_them_and_suggests_the_closest(given, close):
    with pytest.raises(ParameterError) as err:
        validate_parameters(list(_params().values()), {"pricing": given}, runbook="report_gpu_cost")
    assert err.value.name == "pricing"
    assert "on_demand, reserved_1y, reserved_3y, spot" in err.value.message and repr(given) in err.value.message
    if close:
        assert err.value.hint.startswith(f"did you mean {close!r}?")
    else:
        assert "did you mean" not in err.value.hint and "-p pricing on_demand" in err.value.hint


def test_choices_are_checked_for_text_python_and_yaml_values(tmp_path):
    params = list(_params().values())
    assert validate_parameters(params, {"pricing": "spot", "unit": "none", "level": "3"}) == {
        "pricing": "spot",
        "unit": None,
        "level": 3,
    }
    assert validate_parameters(params, {"unit": "us", "level": 1}) == {"unit": "us", "level": 1}
    for bad in ({"level": "4"}, {"level": 4}, {"unit": "sec"}):
        with pytest.raises(ParameterError) as err:
            validate_parameters(params, bad)
        assert err.value.name == next(iter(bad))
    path = tmp_path / "p.yaml"
    path.write_text("pricing: spott\n")
    with pytest.raises(ParameterError) as err:
        validate_parameters(params, load_parameter_file(str(path)))
    assert err.value.name == "pricing" and "'spot'" in err.value.hint


@pytest.mark.parametrize(
    ("name", "value", "ok"),
    [
        ("quantile", "0.5", True),
        ("quantile", "0", False),
        ("quantile", "1", False),
        ("quantile", 1.5, False),
        ("ranks", "1", True),
        ("ranks", "0", False),
        ("share", "0", True),
        ("share", "100", True),
        ("share", "100.5", False),
        ("hot_pct", "150", False),
        ("hot_pct", "nan", False),
    ],
)
def test_declared_ranges_are_checked_with_the_rules_by_name(name, value, ok):
    params = list(_params().values())
    if ok:
        assert name in validate_parameters(params, {name: value})
        return
    with pytest.raises(ParameterError) as err:
        validate_parameters(params, {name: value})
    assert err.value.name == name and err.value.hint.startswith(f"e.g. -p {name}")


def test_ranges_read_from_help_and_what_is_prose():
    params = _params()
    assert str(params["quantile"].value_range) == "> 0 and < 1" and params["quantile"].description == "the quantile"
    assert str(params["ranks"].value_range) == ">= 1"
    assert str(params["share"].value_range) == "0 to 100"
    assert params["hot_pct"].value_range is None and params["hot_pct"].description == "hot above this (%)"


def test_the_default_is_exempt_from_a_range():
    (param,) = parse_parameters_cell("gpu_memory_gib: float = 0.0  # capacity; 0 reads it from the log (> 0)")
    assert validate_parameters([param], {"gpu_memory_gib": "0"}) == {"gpu_memory_gib": 0.0}
    with pytest.raises(ParameterError):
        validate_parameters([param], {"gpu_memory_gib": "-1"})


def test_value_rules_say_what_is_checked():
    params = _params()
    assert value_rules(params["pricing"]) == ["one of: on_demand, reserved_1y, reserved_3y, spot"]
    assert value_rules(params["quantile"]) == ["> 0 and < 1"]
    assert value_rules(params["hot_pct"]) == ["0 to 100"]
    cell = (
        "load_ratio: float = 1.5  # over usual (> 1)\n"
        "wide_ratio: float = 1.0  # any (>= -1)\n"
        "torch_version: str = ''  # v"
    )
    extra = _params(cell)
    assert value_rules(extra["load_ratio"]) == ["> 1"]  # within "> 0" by name: shown once
    assert value_rules(extra["wide_ratio"]) == ["> 0", ">= -1"]  # both hold
    assert value_rules(extra["torch_version"]) == ["a version like 2.4.1"]
