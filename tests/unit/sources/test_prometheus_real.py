"""Real Prometheus HTTP API answers (tests/fixtures/real/prometheus/), read or refused by what they hold."""

import json
from pathlib import Path

import pytest

from opskit.sources.prometheus import PrometheusError, query_range
from opskit.sources.prometheus_answers import data_of_answer, series_of_answer, warnings_of_answer

REAL = Path(__file__).parents[2] / "fixtures" / "real" / "prometheus"
URL = "http://prom:9090"


def answer(name: str) -> dict:
    return json.loads((REAL / name).read_text())


def test_a_vector_of_two_targets_is_one_point_each():
    series = series_of_answer(data_of_answer(answer("vector_up_two_targets.json"), url=URL))
    # "value":[1558270835.417,"1"] for localhost:9090 (prometheus) and localhost:9100 (node_exporter)
    assert [(labels["job"], points) for labels, points in series] == [
        ("prometheus", [[1558270835.417, "1"]]),
        ("node_exporter", [[1558270835.417, "1"]]),
    ]


def test_the_documented_matrix_keeps_its_three_points_per_job():
    series = dict((labels["job"], points) for labels, points in series_of_answer(answer("matrix_up_docs.json")["data"]))
    assert [t for t, _ in series["node"]] == [1435781430.781, 1435781445.781, 1435781460.781]
    assert [v for _, v in series["node"]] == ["0", "0", "1"]


def test_a_scalar_answer_is_refused_by_its_type():
    data = data_of_answer(answer("scalar_kube_pod_info.json"), url=URL)
    assert data == {"resultType": "scalar", "result": [1625708315.557, "2"]}
    with pytest.raises(PrometheusError) as info:
        series_of_answer(data, url=URL, query="scalar(sum(kube_pod_info))")
    assert info.value.kind == "bad_query" and "'scalar'" in info.value.message and "instant vector" in info.value.hint


@pytest.mark.parametrize(
    ("name", "kind"), [("data_only_scalar_time.json", "scalar"), ("data_only_vector_time.json", "vector")]
)
def test_a_bare_result_without_the_status_envelope_is_named(name, kind):
    with pytest.raises(PrometheusError) as info:
        data_of_answer(answer(name), url=URL)
    assert f"resultType '{kind}'" in info.value.message and "without the status envelope" in info.value.message


def test_an_error_answer_carries_its_type_and_text():
    with pytest.raises(PrometheusError) as info:
        data_of_answer(answer("error_matrix_for_instant_query.json"), url=URL)
    assert "(bad_data)" in info.value.message and 'invalid expression type "matrix"' in info.value.server_error


def test_a_timeout_answer_says_to_shorten_the_range():
    with pytest.raises(PrometheusError) as info:
        data_of_answer(
            {"status": "error", "errorType": "timeout", "error": "query timed out in expression evaluation"}, url=URL
        )
    assert "(timeout)" in info.value.message and "shorten the range" in info.value.hint


@pytest.mark.parametrize("name", ["scalar_kube_pod_info.json", "data_only_scalar_time.json"])
def test_through_query_range_a_real_non_series_answer_is_a_clear_error(answering_server, name):
    serve = answering_server((REAL / name).read_bytes())
    with pytest.raises(PrometheusError) as info:
        query_range(serve, "x", "2021-07-08T01:00:00Z", "2021-07-08T02:00:00Z", "1h")
    assert "scalar" in info.value.message and info.value.url == serve


def test_through_query_range_the_real_vector_is_read(answering_server):
    serve = answering_server((REAL / "vector_up_two_targets.json").read_bytes())
    result = query_range(serve, "up", "2019-05-19T12:00:00Z", "2019-05-19T13:00:00Z", "1h")
    assert sorted(labels["job"] for labels, _, _ in result.series) == ["node_exporter", "prometheus"]
    assert {float(values[0]) for _, _, values in result.series} == {1.0}


def test_a_dcgm_vector_of_two_nodes_keeps_host_gpu_and_pod():
    series = series_of_answer(data_of_answer(answer("vector_dcgm_gpu_util_gb200.json"), url=URL))
    assert [(labels["Hostname"], labels["gpu"], labels["pod"], points) for labels, points in series] == [
        ("ip-100-64-135-20.ec2.internal", "0", "nvidia-dcgm-exporter-zn7nr", [[1786238717.755, "0"]]),
        ("ip-100-64-142-208.ec2.internal", "0", "nvidia-dcgm-exporter-thpnl", [[1786238717.755, "0"]]),
    ]


def test_warnings_of_a_partial_answer_are_kept_on_the_result(answering_server):
    body = json.loads((REAL / "vector_up_two_targets.json").read_text())
    serve = answering_server(json.dumps({**body, "warnings": ["partial response"]}).encode())
    result = query_range(serve, "up", "2019-05-19T12:00:00Z", "2019-05-19T14:00:00Z", "1h")
    assert result.warnings == ("partial response",) and len(result.series) == 2


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("error_agent_mode_unavailable.json", "unavailable with Prometheus Agent"),
        ("error_too_many_read_requests.json", "too many read requests"),
    ],
)
def test_execution_errors_carry_their_type_and_the_servers_words(name, text):
    with pytest.raises(PrometheusError) as info:
        data_of_answer(answer(name), url=URL)
    assert "(execution)" in info.value.message and text in info.value.server_error
    assert info.value.kind == "server" and "PromQL" in info.value.hint


REFUSED = (
    'remote_read: error sending request: Post "http://127.0.0.1:9/api/v1/read": '
    "dial tcp 127.0.0.1:9: connect: connection refused"
)


def test_a_remote_read_failure_is_a_warning_beside_the_data_it_still_has(answering_server):
    # Prometheus 2.42 with an unreachable remote_read endpoint: the local series and a warning naming the endpoint
    serve = answering_server((REAL / "warnings_remote_read_refused_matrix.json").read_bytes())
    query = "avg_over_time(DCGM_FI_DEV_GPU_UTIL[1h])"
    result = query_range(serve, query, "2025-11-24T16:59:59.999Z", "2025-11-24T16:59:59.999Z", "1h")
    assert result.warnings == (REFUSED,) and result.infos == ()
    [(labels, ts, values)] = result.series
    assert (labels["Hostname"], labels["gpu"], ts.tolist(), values.tolist()) == (
        "gpu-node-07",
        "0",
        [1764003599.999],
        [60.0],
    )
    assert [(n.query, n.level, n.text) for n in result.notes] == [(query, "warning", REFUSED)]


def test_an_empty_answer_with_a_warning_keeps_the_warning():
    data = data_of_answer(answer("warnings_remote_read_refused_empty_vector.json"), url=URL, query="up")
    assert series_of_answer(data) == [] and data["warnings"] == [REFUSED]
    assert [(n.query, n.text) for n in warnings_of_answer(data, "up")] == [("up", REFUSED)]


def test_infos_of_prometheus_3_are_kept_apart_from_warnings():
    body = {**answer("vector_up_two_targets.json"), "infos": ["PromQL info: metric might not be a counter"]}
    notes = warnings_of_answer(data_of_answer(body, url=URL), "rate(up[5m])")
    assert [(n.level, n.text) for n in notes] == [("info", "PromQL info: metric might not be a counter")]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("error_zero_step.json", "zero or negative query resolution step widths are not accepted"),
        ("error_exceeded_11000_points.json", "exceeded maximum resolution of 11,000 points per timeseries"),
    ],
)
def test_a_step_the_server_refuses_says_to_raise_the_step(name, text):
    with pytest.raises(PrometheusError) as info:
        data_of_answer(answer(name), url=URL, query="up")
    assert "(bad_data)" in info.value.message and text in info.value.server_error
    assert "raise the step" in info.value.hint and "11,000" in info.value.hint


def test_through_query_range_the_real_http_400_for_too_many_points_names_the_step(answering_server):
    refusing = answering_server((REAL / "error_exceeded_11000_points.json").read_bytes(), status=400)
    with pytest.raises(PrometheusError) as info:
        query_range(refusing, "up", "2025-11-24", "2025-11-25", "1h")
    assert info.value.kind == "bad_query" and info.value.status_code == 400
    assert "11,000 points" in info.value.server_error and "raise the step" in info.value.hint
