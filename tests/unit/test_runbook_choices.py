"""The choices a runbook declares are the values its code accepts, and opskit run refuses others before running."""

import pytest

from opskit.analyses.training.settings import LAUNCHERS
from opskit.catalog import get_runbook
from opskit.cli import main
from opskit.runbooks.report_gpu_cost import HEATMAP_ROWS
from opskit.runbooks.write_postmortem_inputs import LANGS
from opskit.sources.gpu_prices import PRICING
from opskit.sources.gpu_samples import FORMATS as GPU_SAMPLE_FORMATS
from opskit.sources.registry_access_logs import REGISTRY_LOG_FORMATS
from opskit.sources.request_columns import LATENCY_UNITS
from opskit.sources.request_formats import REQUEST_FORMATS

ACCEPTED = [
    ("audit_model_access", "log_format", REGISTRY_LOG_FORMATS),
    ("diagnose_latency", "fmt", ("auto", *REQUEST_FORMATS)),
    ("diagnose_latency", "latency_unit", tuple(LATENCY_UNITS)),
    ("diagnose_latency", "engine", ("auto", "duckdb", "pandas")),  # opskit.analyses.latency.quantiles.resolve_engine
    ("diagnose_training_interruption", "launcher", LAUNCHERS),
    ("report_gpu_cost", "source_format", GPU_SAMPLE_FORMATS),
    ("report_gpu_cost", "pricing", PRICING),
    ("report_gpu_cost", "heatmap_by", HEATMAP_ROWS),
    ("write_postmortem", "lang", LANGS),
]


@pytest.mark.parametrize(("runbook", "name", "accepted"), ACCEPTED, ids=lambda v: v if isinstance(v, str) else "")
def test_declared_choices_are_what_the_code_accepts(runbook, name, accepted):
    param = next(p for p in get_runbook(runbook).parameters if p.name == name)
    assert param.choices == tuple(accepted)


def test_engine_choices_are_the_engines_the_latency_area_knows():
    from opskit.analyses.latency.quantiles import resolve_engine
    from opskit.errors import InputError

    assert resolve_engine("pandas") == "pandas"
    with pytest.raises(InputError):
        resolve_engine("polars")


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = main(["run", *argv])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize(
    ("runbook", "name", "value", "suggested"),
    [
        ("report_gpu_cost", "pricing", "ondemand", "on_demand"),
        ("report_gpu_cost", "heatmap_by", "teams", "team"),
        ("diagnose_training_interruption", "launcher", "torch-run", "torchrun"),
        ("diagnose_latency", "fmt", "json", "jsonl"),
        ("write_postmortem", "lang", "EN", "en"),
    ],
)
def test_run_refuses_a_value_not_among_the_choices(tmp_path, capsys, runbook, name, value, suggested):
    code, text = _run(capsys, runbook, "-p", name, value, "--out", str(tmp_path / "r"))
    assert code == 2 and repr(name) in text and repr(value) in text
    assert f"hint: did you mean {suggested!r}?" in text
    assert not (tmp_path / "r").exists()  # refused before anything was created


def test_run_refuses_a_choice_from_a_parameter_file_and_a_value_out_of_its_range(tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text("pricing: reserved-3y\n")
    code, text = _run(capsys, "report_gpu_cost", "-f", str(params), "--out", str(tmp_path / "r"))
    assert code == 2 and "must be one of: on_demand, reserved_1y, reserved_3y, spot" in text
    assert "did you mean 'reserved_3y'?" in text
    code, text = _run(capsys, "diagnose_latency", "-p", "slo_quantile", "95", "--out", str(tmp_path / "r"))
    assert code == 2 and "'slo_quantile' must be > 0 and < 1" in text
    assert not (tmp_path / "r").exists()
