"""Request logs in every supported format become the same requests frame."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pandas as pd
import pytest

from opskit.errors import InputError
from opskit.sources.gpu_metrics import read_gpu_metrics
from opskit.sources.request_columns import REQUEST_COLUMNS
from opskit.sources.requests import read_requests

FIXTURES = Path(__file__).parents[2] / "fixtures" / "latency"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def test_csv_with_all_columns_keeps_optional_and_extra_columns():
    frame = read_requests(FIXTURES / "requests_full.csv")
    assert list(frame.columns[:5]) == list(REQUEST_COLUMNS)
    assert {"batch_size", "queue_ms", "gpu_ms", "instance"} <= set(frame.columns)
    assert str(frame["timestamp"].dt.tz) == "UTC"
    assert frame["latency_ms"].tolist() == [180.5, 210.0, 650.0]
    assert frame["status"].tolist() == [200, 200, 500]
    assert frame["model_version"].tolist() == ["ranker-2.3.1", "ranker-2.3.1", "ranker-2.4.0"]
    assert pd.isna(frame.loc[2, "queue_ms"])  # a missing optional value is allowed


def test_nginx_combined_with_request_time_in_seconds():
    frame = read_requests(FIXTURES / "nginx_combined_request_time.log")
    assert frame["latency_ms"].round(3).tolist() == [182.0, 641.0, 2.0]
    # the query string is not part of the endpoint; +0100 is converted to UTC
    assert frame["endpoint"].tolist() == ["/v1/models/ranker:predict", "/v1/models/ranker:predict", "/healthz"]
    assert frame["timestamp"].tolist() == [
        ts("2026-11-28T10:00:00Z"),
        ts("2026-11-28T10:00:01Z"),
        ts("2026-11-28T10:00:02Z"),
    ]
    assert frame["status"].tolist() == [200, 200, 503]
    assert (frame["model_version"] == "unknown").all()


def test_nginx_key_value_rt_and_gunicorn_microseconds():
    assert read_requests(FIXTURES / "nginx_kv_rt.log")["latency_ms"].tolist() == [1250.0]
    assert read_requests(FIXTURES / "gunicorn_micros.log")["latency_ms"].tolist() == [245.0]


def test_nginx_line_without_request_time_names_the_line():
    with pytest.raises(InputError) as info:
        read_requests(FIXTURES / "nginx_missing_request_time.log")
    assert info.value.line == 2
    assert info.value.column == "request_time"
    assert info.value.path.endswith("nginx_missing_request_time.log")
    assert info.value.hint


def test_envoy_default_text_log_duration_in_ms():
    frame = read_requests(FIXTURES / "envoy_default.log")
    assert frame["latency_ms"].tolist() == [226.0, 15000.0]
    assert frame["status"].tolist() == [200, 504]
    assert frame["timestamp"].iloc[0] == ts("2026-11-28T10:00:00.310Z")


def test_istio_default_text_log():
    frame = read_requests(FIXTURES / "istio_default.log")
    assert frame["latency_ms"].tolist() == [1432.0]
    assert frame["endpoint"].tolist() == ["/v1/chat/completions"]


def test_envoy_json_lines_use_aliases():
    frame = read_requests(FIXTURES / "envoy_json.jsonl")
    assert frame["latency_ms"].tolist() == [48.0, 52.0]
    assert frame["model_version"].tolist() == ["embedder-v3", "embedder-v3"]
    assert frame["endpoint"].tolist() == ["/v1/embed", "/v1/embed"]


def test_broken_json_line_is_named():
    with pytest.raises(InputError) as info:
        read_requests(FIXTURES / "jsonl_broken_line3.jsonl")
    assert info.value.line == 3


def test_uvicorn_default_log_has_no_time_and_says_so():
    with pytest.raises(InputError) as info:
        read_requests(FIXTURES / "uvicorn_default.log")
    assert info.value.line == 1
    assert "%(D)s" in info.value.hint


def test_latency_that_is_not_a_number_names_line_and_column():
    with pytest.raises(InputError) as info:
        read_requests(FIXTURES / "requests_latency_not_number_line4.csv")
    assert (info.value.line, info.value.column) == (4, "latency_ms")


def test_bad_timestamp_names_line_and_column():
    with pytest.raises(InputError) as info:
        read_requests(FIXTURES / "requests_bad_timestamp_line3.csv")
    assert (info.value.line, info.value.column) == (3, "timestamp")


def test_epoch_seconds_latency_in_seconds_and_status_words():
    frame = read_requests(FIXTURES / "requests_epoch_seconds.csv")
    assert frame["timestamp"].iloc[0] == pd.Timestamp(1795860000, unit="s", tz="UTC")
    assert frame["latency_ms"].tolist() == [120.0, 250.0]
    assert frame["status"].tolist() == [200, 500]


def test_column_mapping_and_latency_unit_override():
    frame = read_requests(
        FIXTURES / "requests_custom_names.csv",
        columns={"timestamp": "when", "latency_ms": "svc_time_us"},
        latency_unit="us",
    )
    assert frame["latency_ms"].tolist() == [125.0]
    assert frame["endpoint"].tolist() == ["/score"]


def test_missing_latency_column_says_how_to_map_it():
    with pytest.raises(InputError) as info:
        read_requests(FIXTURES / "requests_custom_names.csv", columns={"timestamp": "when"})
    assert info.value.column == "latency_ms"
    assert "columns=" in info.value.hint


def test_mapping_to_a_column_not_in_the_file():
    with pytest.raises(InputError) as info:
        read_requests(FIXTURES / "requests_custom_names.csv", columns={"latency_ms": "nope"})
    assert info.value.column == "nope"


def test_negative_latency_is_rejected(tmp_path):
    path = tmp_path / "neg.csv"
    path.write_text("timestamp,latency_ms\n2026-11-28T10:00:00Z,5\n2026-11-28T10:00:01Z,-3\n")
    with pytest.raises(InputError) as info:
        read_requests(path)
    assert (info.value.line, info.value.column) == (3, "latency_ms")


def test_parquet_and_gzip_give_the_same_frame(tmp_path):
    expected = read_requests(FIXTURES / "requests_full.csv")
    parquet = tmp_path / "r.parquet"
    expected.to_parquet(parquet)
    pd.testing.assert_frame_equal(read_requests(parquet), expected, check_categorical=False)
    gz = tmp_path / "access.log.gz"
    with open(FIXTURES / "envoy_default.log", "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert read_requests(gz)["latency_ms"].tolist() == [226.0, 15000.0]


def test_parquet_errors_name_the_row(tmp_path):
    parquet = tmp_path / "r.parquet"
    pd.DataFrame({"timestamp": ["2026-11-28T10:00:00Z", "soon"], "latency_ms": [1.0, 2.0]}).to_parquet(parquet)
    with pytest.raises(InputError) as info:
        read_requests(parquet)
    assert info.value.column == "timestamp"
    assert info.value.line is None
    assert "row 2" in info.value.reason


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(InputError) as info:
        read_requests(tmp_path / "absent.csv")
    assert info.value.path.endswith("absent.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("timestamp,latency_ms\n")
    with pytest.raises(InputError):
        read_requests(empty)


def test_gpu_metrics_table(tmp_path):
    path = tmp_path / "gpu.csv"
    path.write_text(
        "timestamp,host,gpu,util_pct,mem_used_mib,mem_total_mib\n2026-11-28T10:00:00Z,h1,0,97,70000,81559\n"
    )
    frame = read_gpu_metrics(path)
    assert frame["util_pct"].tolist() == [97.0]
    bad = tmp_path / "gpu_bad.csv"
    bad.write_text("timestamp,host,gpu\n2026-11-28T10:00:00Z,h1,0\n")
    with pytest.raises(InputError) as info:
        read_gpu_metrics(bad)
    assert info.value.column == "util_pct"


def test_endpoints_lose_host_query_and_ids(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text(
        "timestamp,latency_ms,url\n"
        "2026-11-28T10:00:00Z,5,https://api.example.com/v1/users/12345/predict?x=1\n"
        "2026-11-28T10:00:01Z,5,/v1/users/987/predict\n"
        "2026-11-28T10:00:02Z,5,/v1/jobs/3f2b8c1e-9a7d-4c2e-8f1a-0b9c8d7e6f5a\n"
        "2026-11-28T10:00:03Z,5,/v2/models/resnet50/infer\n"
    )
    frame = read_requests(path)
    assert frame["endpoint"].tolist() == [
        "/v1/users/{id}/predict",
        "/v1/users/{id}/predict",
        "/v1/jobs/{id}",
        "/v2/models/resnet50/infer",
    ]
