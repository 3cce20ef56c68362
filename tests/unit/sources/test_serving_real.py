"""Model-server logs (tests/fixtures/real/serving_logs/): no per-request latency, refused with what to pass instead."""

from pathlib import Path

import pytest

from opskit.errors import InputError
from opskit.sources.requests import read_requests

REAL = Path(__file__).parents[2] / "fixtures" / "real" / "serving_logs"


@pytest.mark.parametrize(
    ("name", "lines"),
    [
        ("triton_started_services_yolov8.log", 3),
        ("triton_started_services_xsched.log", 3),
        ("triton_model_table_fingerprint.log", 8),
        ("triton_densenet_onnx_loading.log", 6),
        ("tgi_compose_prefixed_uvicorn_startup.log", 6),
        ("tgi_warmup_npu.log", 3),
    ],
)
def test_server_start_up_logs_are_refused_at_line_1_naming_fmt_and_the_proxy_log(name, lines):
    with pytest.raises(InputError) as info:
        read_requests(REAL / name)
    assert info.value.line == 1 and f"no access-log line in its first {lines} line(s)" in info.value.message
    assert "pass fmt" in info.value.hint and "ingress or Envoy in front of it" in info.value.hint


def test_tgi_is_named_among_the_servers_without_request_latency():
    with pytest.raises(InputError) as info:
        read_requests(REAL / "tgi_warmup_npu.log")
    assert "TGI" in info.value.hint


def test_forcing_an_access_log_format_on_a_triton_log_is_still_refused():
    with pytest.raises(InputError) as info:
        read_requests(REAL / "triton_densenet_onnx_loading.log", fmt="nginx")
    assert info.value.line == 1 and "no nginx access-log line in 6 line(s)" in info.value.message
    assert "Started GRPCInferenceService" in info.value.message
