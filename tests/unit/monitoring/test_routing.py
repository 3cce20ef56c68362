"""The routing file is checked at start; alert labels are data, confined to declared parameters and roots."""

from __future__ import annotations

import pytest

from opskit.errors import InputError
from opskit.monitoring.routing import RouteRefused, load_routing

ROUTES = """\
allowed_roots: [logs]
routes:
  - alert: OpskitGpuXid
    runbook: triage_job
    params:
      log_path: "logs/{Hostname}/train.log"
      excerpt_lines: "{lines}"
    paths: [log_path]
  - alert: OpskitGpuHot
    match: {team: vision}
    runbook: report_gpu_cost
    params: {samples: "sample:fleet_week"}
"""


@pytest.fixture
def routing(tmp_path):
    (tmp_path / "logs" / "node1").mkdir(parents=True)
    (tmp_path / "r.yaml").write_text(ROUTES)
    return load_routing(tmp_path / "r.yaml")


def test_labels_fill_declared_parameters_with_their_types(routing, tmp_path):
    labels = {"alertname": "OpskitGpuXid", "Hostname": "node1", "lines": "3"}
    route = routing.route(labels)
    params = routing.parameters(route, labels)
    assert params == {"log_path": str(tmp_path.resolve() / "logs/node1/train.log"), "excerpt_lines": 3}


def test_matchers_pick_the_route(routing):
    assert routing.route({"alertname": "OpskitGpuHot", "team": "vision"}).runbook == "report_gpu_cost"
    assert routing.route({"alertname": "OpskitGpuHot", "team": "nlp"}) is None


@pytest.mark.parametrize(
    "host",
    ["../../etc", "..", "node1/../../..", "$(reboot)", "a;rm -rf", "node1\nx", "{lines}"],
)
def test_label_injection_into_paths_is_refused(routing, host):
    labels = {"alertname": "OpskitGpuXid", "Hostname": host, "lines": "3"}
    with pytest.raises(RouteRefused):
        routing.parameters(routing.route(labels), labels)


def test_absolute_path_outside_roots_is_refused(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "r.yaml").write_text(ROUTES.replace('"logs/{Hostname}/train.log"', '"{path}"'))
    routing = load_routing(tmp_path / "r.yaml")
    labels = {"alertname": "OpskitGpuXid", "path": "/etc/passwd", "lines": "3"}
    with pytest.raises(RouteRefused) as e:
        routing.parameters(routing.route(labels), labels)
    assert "outside the allowed roots" in e.value.message


def test_wrong_type_from_a_label_is_refused(routing):
    labels = {"alertname": "OpskitGpuXid", "Hostname": "node1", "lines": "many"}
    with pytest.raises(RouteRefused) as e:
        routing.parameters(routing.route(labels), labels)
    assert "excerpt_lines" in e.value.message


def test_missing_label_is_refused(routing):
    with pytest.raises(RouteRefused):
        routing.parameters(routing.route({"alertname": "OpskitGpuXid"}), {"alertname": "OpskitGpuXid"})


def test_unknown_runbook_or_parameter_refused_at_start_with_line(tmp_path):
    (tmp_path / "a.yaml").write_text(ROUTES.replace("runbook: report_gpu_cost", "runbook: report_gpu_costs"))
    with pytest.raises(InputError) as e:
        load_routing(tmp_path / "a.yaml")
    assert e.value.line == 11 and e.value.path.endswith("a.yaml")
    (tmp_path / "b.yaml").write_text(ROUTES.replace("excerpt_lines:", "excerpt_line:"))
    with pytest.raises(InputError) as e:
        load_routing(tmp_path / "b.yaml")
    assert e.value.line == 7 and "excerpt_lines" in e.value.hint


def test_error_line_is_the_route_s_own_when_a_runbook_repeats(tmp_path):
    text = ROUTES + "  - alert: Other\n    runbook: triage_job\n    params: {excerpt_line: 2}\n"
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(InputError) as e:
        load_routing(tmp_path / "c.yaml")
    assert e.value.line == 15  # the params line of the second triage_job route
