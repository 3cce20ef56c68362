"""Request readers on real access and server logs (tests/fixtures/real/, values checked by hand)."""

import gzip
import json
from pathlib import Path

import pytest

from opskit.errors import InputError
from opskit.sources.access_logs import access_log_kind, unwrap_line
from opskit.sources.requests import read_requests

REAL = Path(__file__).parents[2] / "fixtures" / "real"


def test_ingress_upstreaminfo_reads_request_time_not_request_length():
    frame = read_requests(REAL / "access_logs" / "ingress_nginx_upstreaminfo_curl.log")
    # "77 0.002 [default-app2-svc-80]": 77 is $request_length (bytes), 0.002 s the request time
    assert frame["latency_ms"].tolist() == [2.0, 1.0, 2.0]
    assert frame["status"].tolist() == [200, 404, 200]


def test_ingress_upstreaminfo_even_when_fmt_says_nginx():
    frame = read_requests(REAL / "access_logs" / "ingress_nginx_default_backend_404.log", fmt="nginx")
    assert frame["latency_ms"].tolist() == [0.0]  # "74 0.000 [upstream-default-backend]"


def test_kubectl_mixed_log_reads_access_lines_and_counts_the_others():
    frame = read_requests(REAL / "access_logs" / "ingress_nginx_kubectl_mixed.log")
    assert len(frame) == 4
    assert frame["latency_ms"].tolist() == [4.0, 1.0, 1.0, 0.0]  # 474 0.004, 102 0.001, 39 0.001, 57 0.000
    other = frame.attrs["other_lines"]
    assert other["count"] == 4 and other["first_line"] == 1
    assert other["first_text"].startswith("W0825 16:19:13.160463")


def test_access_line_then_nginx_error_lines_and_traceback():
    frame = read_requests(REAL / "access_logs" / "ingress_nginx_lua_error_mixed.log")
    assert frame["latency_ms"].tolist() == [5.0] and frame["status"].tolist() == [404]
    assert frame.attrs["other_lines"]["count"] == 6 and frame.attrs["other_lines"]["first_line"] == 2


def test_istio_sidecar_text_log_duration():
    frame = read_requests(REAL / "access_logs" / "istio_sidecar_text.log")
    # sorted by time: 06:58:55 (472 ms) before 07:09:06 (40 ms)
    assert frame["latency_ms"].tolist() == [472.0, 40.0]


@pytest.mark.parametrize(
    ("name", "first", "count"),
    [("vllm_apiserver_uvicorn.log", 1, 2), ("vllm_apiserver_busy.log", 3, 3), ("kserve_vllm_uvicorn_access.log", 1, 1)],
)
def test_vllm_server_logs_say_there_is_no_request_time(name, first, count):
    with pytest.raises(InputError) as info:
        read_requests(REAL / "serving_logs" / name)
    assert info.value.line == first
    assert f"{count} uvicorn access line(s)" in info.value.message
    assert "duration" in info.value.hint


def test_two_bare_numbers_are_ambiguous_and_name_fmt(tmp_path):
    log = tmp_path / "custom.log"
    log.write_text('10.0.0.1 - - [07/Oct/2026:15:15:32 +0000] "GET / HTTP/1.1" 200 17 "-" "curl/8.9.0" 512 0.034\n')
    with pytest.raises(InputError) as info:
        read_requests(log)
    assert info.value.line == 1 and info.value.column == "request_time"
    assert "fmt='ingress-nginx'" in info.value.hint and "fmt='nginx'" in info.value.hint
    assert read_requests(log, fmt="ingress-nginx")["latency_ms"].tolist() == [34.0]


def test_wrapped_lines_are_unwrapped():
    line = (
        '192.168.49.2 - - [17/Sep/2026:17:07:33 +0000] "GET / HTTP/1.1" 404 146 "-" "c" 74 0.000 [x] [] a 1 0.0 404 i'
    )
    assert unwrap_line("2026-09-17T17:07:33.123456789Z stdout F " + line) == line
    assert unwrap_line("[pod/ingress-abc/controller] " + line) == line
    assert unwrap_line(json.dumps({"log": line + "\n", "stream": "stdout"})) == line
    assert unwrap_line(json.dumps({"body": {"stringValue": line}})) == line
    assert access_log_kind(json.dumps({"body": line})) == "ingress-nginx"


def test_otel_wrapped_jsonl_is_read_as_access_log(tmp_path):
    source = (REAL / "access_logs" / "ingress_nginx_upstreaminfo_curl.log").read_text().splitlines()
    wrapped = tmp_path / "otel.jsonl"
    wrapped.write_text("".join(json.dumps({"body": s}) + "\n" for s in source))
    assert read_requests(wrapped)["latency_ms"].tolist() == [2.0, 1.0, 2.0]


def test_truncated_gzip_names_the_file_and_what_was_read(tmp_path):
    text = (REAL / "access_logs" / "ingress_nginx_upstreaminfo_curl.log").read_bytes() * 200
    packed = gzip.compress(text)
    damaged = tmp_path / "access.log.gz"
    damaged.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(InputError) as info:
        read_requests(damaged)
    assert info.value.path.endswith("access.log.gz")
    assert "damaged after" in info.value.message and "gzip -dc" in info.value.hint


@pytest.mark.parametrize(
    ("name", "latency", "status"),
    [
        ("istio_egress_head.log", 421.0, 200),  # "0 0 421 420": bytes in, bytes out, duration, upstream time
        ("istio_inbound_frontend.log", 0.0, 200),  # "0 643 0 0"
        ("istio_teapot_418.log", 4.0, 418),  # "0 135 4 4"
        ("istio_journalctl_prefixed.log", 142.0, 200),  # behind "Feb 07 18:15:55 host bash[4184]: "
    ],
)
def test_istio_lines_one_request_each(name, latency, status):
    frame = read_requests(REAL / "access_logs" / name)
    assert frame["latency_ms"].tolist() == [latency] and frame["status"].tolist() == [status]
    assert "other_lines" not in frame.attrs


def test_istio_proxy_agent_warning_is_counted_not_read():
    frame = read_requests(REAL / "access_logs" / "istio_proxy_with_agent_lines.log")
    assert frame["latency_ms"].tolist() == [608.0]
    other = frame.attrs["other_lines"]
    assert other["count"] == 1 and "Could not unmarshal" in other["first_text"]


def test_triton_server_log_says_where_latency_is_logged():
    with pytest.raises(InputError) as info:
        read_requests(REAL / "serving_logs" / "triton_startup.log")
    assert "fmt" in info.value.hint and "Envoy in front" in info.value.hint
