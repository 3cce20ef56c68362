"""A week of a model registry's access log and its RBAC policy, with four planted violations.

Scenario ``registry_access`` writes ``access.log`` (gunicorn/nginx combined, what ``mlflow server``
behind basic auth logs, Mon 2 - Sun 8 Nov 2026, UTC) and ``rbac.yaml``; ``registry_access_policy``
names the policy of the same folder. Ordinary traffic stays inside working hours (Mon-Fri 09-18 UTC),
a few downloads an hour at most and a single denial. Planted, and nothing else:

- off-role: ``dave@example.com`` (role ``viewer``: read only) downloads ``fraud-detector`` on Wednesday;
- bulk download at night: ``bob@example.com`` fetches 40 versions' artifacts on Thursday 02:10-02:50;
- a burst of denials: ``carol@example.com`` is refused 8 deletions within 3 minutes on Tuesday;
- a new principal: ``frank@example.com``, not in the policy, reads ``churn-model`` on Friday.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from opskit.samples import scenario

MONDAY = pd.Timestamp("2026-11-02T00:00:00Z")
POLICY = """\
# who may do what on the registry's models
roles:
  algorithm:
    actions: [read, download]
    models: ["fraud-*", "churn-*"]
  operations:
    actions: [read, download, write, delete]
  viewer:
    actions: [read]
principals:
  alice@example.com: [algorithm]
  bob@example.com: [algorithm]
  carol@example.com: [viewer]
  ci-bot: [operations]
  dave@example.com: viewer
"""
MODELS = ("fraud-detector", "churn-model")
API = "/api/2.0/mlflow"
CLIENT = "mlflow-python-client/2.17.0"
_READS = (
    "/registered-models/get?name={m}",
    "/model-versions/search?filter=name%3D%27{m}%27",
    "/registered-models/alias?name={m}&alias=champion",
)
_DOWNLOAD = "/model-versions/get-download-uri?name={m}&version={v}"


def _line(when: pd.Timestamp, user: str, method: str, path: str, status: int, size: int) -> str:
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
    addr = f"10.20.0.{sum(map(ord, user)) % 200 + 10}"
    return f'{addr} - {user} [{stamp}] "{method} {API}{path} HTTP/1.1" {status} {size} "-" "{CLIENT}"'


def access_lines(seed: int = 16) -> list[str]:
    """The week's access lines in time order: ordinary traffic plus the four planted violations."""
    rng = np.random.default_rng(seed)
    events: list[tuple[pd.Timestamp, str, str, str, int, int]] = []
    readers = ("alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com", "ci-bot")
    for day in range(5):
        for user in readers:
            for _ in range(int(rng.integers(6, 12))):
                when = MONDAY + pd.Timedelta(days=day, hours=9, seconds=int(rng.integers(0, 9 * 3600)))
                model = MODELS[int(rng.integers(0, 2))]
                path = _READS[int(rng.integers(0, 3))].format(m=model)
                events.append((when, user, "GET", path, 200, int(rng.integers(300, 3000))))
        for user in ("alice@example.com", "bob@example.com", "ci-bot"):  # a couple of downloads a day
            for hour in (10, 15):
                when = MONDAY + pd.Timedelta(days=day, hours=hour, minutes=int(rng.integers(0, 50)))
                path = _DOWNLOAD.format(m="fraud-detector", v=int(rng.integers(1, 4)))
                events.append((when, user, "GET", path, 200, 412))
        when = MONDAY + pd.Timedelta(days=day, hours=11, minutes=5)  # the pipeline moves the alias
        events.append((when, "ci-bot", "POST", "/registered-models/alias", 200, 2))
    # a single denial is ordinary: dave tries a download once on Monday and is refused
    events.append(
        (
            MONDAY + pd.Timedelta(hours=13, minutes=2),
            "dave@example.com",
            "GET",
            _DOWNLOAD.format(m="churn-model", v=2),
            403,
            64,
        )
    )
    # planted 1, off-role: dave (viewer) downloads fraud-detector on Wednesday afternoon, and it succeeds
    for minute in (10, 12):
        events.append(
            (
                MONDAY + pd.Timedelta(days=2, hours=14, minutes=minute),
                "dave@example.com",
                "GET",
                _DOWNLOAD.format(m="fraud-detector", v=3),
                200,
                412,
            )
        )
    # planted 2, bulk download at night: bob fetches 40 versions on Thursday 02:10-02:50
    for k in range(40):
        events.append(
            (
                MONDAY + pd.Timedelta(days=3, hours=2, minutes=10, seconds=60 * k),
                "bob@example.com",
                "GET",
                _DOWNLOAD.format(m="fraud-detector", v=k + 1),
                200,
                412,
            )
        )
    # planted 3, denials: carol (viewer) is refused 8 deletions within 3 minutes on Tuesday
    for k in range(8):
        events.append(
            (
                MONDAY + pd.Timedelta(days=1, hours=16, minutes=30, seconds=20 * k),
                "carol@example.com",
                "DELETE",
                f"/model-versions/delete?name=churn-model&version={k + 1}",
                403,
                64,
            )
        )
    # planted 4, a new principal: frank, not in the policy, reads churn-model on Friday morning
    for k in range(5):
        events.append(
            (
                MONDAY + pd.Timedelta(days=4, hours=10, minutes=6 * k),
                "frank@example.com",
                "GET",
                _READS[0].format(m="churn-model"),
                200,
                1200,
            )
        )
    events.sort(key=lambda e: e[0])
    return [_line(*e) for e in events]


def write_registry_access(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rbac.yaml").write_text(POLICY, encoding="utf-8")
    log = folder / "access.log"
    log.write_text("\n".join(access_lines()) + "\n", encoding="utf-8")
    return log


@scenario("registry_access", "a week of model-registry access with four planted violations")
def registry_access(folder: Path) -> Path:
    return write_registry_access(folder)


@scenario("registry_access_policy", "the RBAC policy of the registry_access sample")
def registry_access_policy(folder: Path) -> Path:
    return write_registry_access(folder).with_name("rbac.yaml")
