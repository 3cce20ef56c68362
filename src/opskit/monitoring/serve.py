"""``opskit serve``: Alertmanager webhook receiver that runs the mapped runbook, and a read-only report server.

``POST /alerts`` (bearer token) takes Alertmanager's webhook; each firing alert is routed (see
:mod:`opskit.monitoring.routing`), queued (bounded; a full queue answers 503 so Alertmanager retries)
and run once per fingerprint while it fires. The queue state is a JSON file rewritten atomically on each
change: after a restart, queued and interrupted runs are run, finished ones are not repeated. A resolved
alert clears its fingerprint. The chat summary with the report link goes to every configured webhook.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest
from pydantic import BaseModel, ValidationError

from opskit.errors import InputError, OpskitError
from opskit.monitoring.chat import KINDS, ChatMessage, post
from opskit.monitoring.routing import RouteRefused, Routing, load_routing

log = logging.getLogger("opskit.serve")


class Alert(BaseModel):
    status: str
    labels: dict[str, str]
    annotations: dict[str, str] = {}
    fingerprint: str = ""
    startsAt: str = ""


class Webhook(BaseModel):
    version: str = "4"
    status: str
    alerts: list[Alert]


@dataclass(frozen=True)
class ServeConfig:
    token: str
    routing: Routing
    reports_dir: Path
    state_file: Path
    base_url: str = "http://127.0.0.1:8787"
    queue_size: int = 16
    timeout_s: float = 900.0
    max_body_bytes: int = 256 * 1024
    chats: tuple[tuple[str, str], ...] = ()
    chat_retries: int = 3
    chat_backoff_s: float = 1.0
    incident_root: Path | None = None  # with incident_id: each handled alert becomes an event there
    incident_id: str | None = None


def load_config(path: str | Path) -> ServeConfig:
    """Read ``opskit-serve.yaml``; the routing in it is checked now (unknown runbook/parameter refused)."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read serve config: {exc}", path=str(p)) from exc
    token = os.environ.get(str(data.get("token_env", "OPSKIT_SERVE_TOKEN")), "") or str(data.get("token", ""))
    if len(token) < 16:
        raise InputError(
            "no bearer token of at least 16 characters", path=str(p), hint="set $OPSKIT_SERVE_TOKEN (or token_env)"
        )
    chats = []
    for c in data.get("chat") or []:
        if c.get("kind") not in KINDS:
            raise InputError(f"unknown chat kind {c.get('kind')!r}", path=str(p), hint="one of: " + ", ".join(KINDS))
        chats.append((c["kind"], os.environ.get(str(c.get("url_env", "")), "") or str(c["url"])))
    base = p.parent
    return ServeConfig(
        token=token,
        routing=load_routing(p, base=base),
        reports_dir=(base / data.get("reports_dir", "reports")).resolve(),
        state_file=(base / data.get("state_file", ".opskit-serve/state.json")).resolve(),
        base_url=str(data.get("base_url", "http://127.0.0.1:8787")).rstrip("/"),
        queue_size=int(data.get("queue_size", 16)),
        timeout_s=float(data.get("timeout_s", 900)),
        max_body_bytes=int(data.get("max_body_bytes", 256 * 1024)),
        chats=tuple(chats),
        chat_retries=int(data.get("chat_retries", 3)),
        chat_backoff_s=float(data.get("chat_backoff_s", 1.0)),
        incident_root=(base / data["incident_root"]).resolve() if data.get("incident_root") else None,
        incident_id=str(data["incident_id"]) if data.get("incident_id") else None,
    )


class RunQueue:
    """Bounded queue of runs keyed by alert fingerprint, persisted to ``state_file`` on every change."""

    def __init__(self, state_file: Path, size: int):
        self.state_file = state_file
        self.lock = threading.Lock()
        self.q: queue.Queue[str] = queue.Queue(maxsize=size)
        self.state: dict[str, dict[str, Any]] = {}
        if state_file.exists():
            self.state = json.loads(state_file.read_text(encoding="utf-8"))
        for fp, entry in self.state.items():  # queued or interrupted by a restart: run them now
            if entry["status"] in ("queued", "running"):
                entry["status"] = "queued"
                self.q.put_nowait(fp)
        self._save()

    def _save(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(self.state_file)

    def offer(self, fp: str, entry: dict[str, Any]) -> str:
        """'queued', 'duplicate' (already known while firing) or 'full'."""
        with self.lock:
            if fp in self.state:
                return "duplicate"
            try:
                self.q.put_nowait(fp)
            except queue.Full:
                return "full"
            self.state[fp] = {**entry, "status": "queued"}
            self._save()
            return "queued"

    def record(self, fp: str, entry: dict[str, Any]) -> None:
        with self.lock:
            self.state[fp] = entry
            self._save()

    def resolve(self, fp: str) -> None:
        """A resolved alert: forget a finished run so the next firing runs again."""
        with self.lock:
            if self.state.get(fp, {}).get("status") in ("done", "refused", "failed"):
                del self.state[fp]
                self._save()


def _fingerprint(alert: Alert) -> str:
    return alert.fingerprint or json.dumps(sorted(alert.labels.items()))


def _message(alertname: str, runbook: str, summary: dict[str, Any], link: str) -> ChatMessage:
    order = {"ERROR": 0, "FAIL": 1, "WARN": 2}
    worst = sorted((c for c in summary.get("checks", []) if c.get("status") in order), key=lambda c: order[c["status"]])
    lines = tuple(f"{c['status']} {c['name']} {c.get('subject') or ''}".strip() for c in worst[:5])
    status = str(summary.get("status", "ERROR"))
    return ChatMessage(f"{alertname} -> {runbook}: {status}", status, lines, link)


class Receiver:
    """The worker side: takes fingerprints from the queue, runs, records, posts to chat."""

    def __init__(self, cfg: ServeConfig, registry: CollectorRegistry):
        self.cfg = cfg
        self.runs = RunQueue(cfg.state_file, cfg.queue_size)
        self.received = Counter("opskit_serve_alerts_total", "alerts received", ["outcome"], registry=registry)
        self.finished = Counter("opskit_serve_runs_total", "runs finished", ["status"], registry=registry)
        self.depth = Gauge("opskit_serve_queue_depth", "runs waiting", registry=registry)
        self.depth.set_function(self.runs.q.qsize)

    def event(self, summary: str, link: str | None = None) -> None:
        """Append an ``alert`` event to the configured incident folder; a failure is logged, not raised."""
        if self.cfg.incident_root is None or self.cfg.incident_id is None:
            return
        from opskit.incidents.folder import add_event

        try:
            add_event(
                self.cfg.incident_root,
                self.cfg.incident_id,
                summary=summary,
                kind="alert",
                source="opskit serve",
                link=link,
            )
        except OpskitError as exc:
            log.warning("incident event not written: %s", exc)

    def take(self, alert: Alert) -> str:
        fp = _fingerprint(alert)
        name = alert.labels.get("alertname", "?")
        if alert.status != "firing":
            self.runs.resolve(fp)
            return "resolved"
        route = self.cfg.routing.route(alert.labels)
        if route is None:
            log.info("alert %s fp=%s: no route", name, fp)
            return "unrouted"
        try:
            params = self.cfg.routing.parameters(route, alert.labels)
        except RouteRefused as exc:
            log.warning("alert %s fp=%s refused: %s", name, fp, exc.message)
            if fp not in self.runs.state:
                self.runs.record(fp, {"status": "refused", "alert": name, "error": exc.message})
                self.event(f"{name}: refused, nothing run: {exc.message}")
            return "refused"
        outcome = self.runs.offer(fp, {"alert": name, "runbook": route.runbook, "params": params})
        log.info("alert %s fp=%s -> %s %s: %s", name, fp, route.runbook, json.dumps(params, default=str), outcome)
        return outcome

    def work_once(self, block: bool = True) -> bool:
        try:
            fp = self.runs.q.get(block=block, timeout=1.0 if block else None)
        except queue.Empty:
            return False
        from opskit.runner import run_runbook

        entry = dict(self.runs.state[fp])
        self.runs.record(fp, {**entry, "status": "running"})
        try:
            result = run_runbook(
                entry["runbook"],
                entry["params"],
                reports_dir=self.cfg.reports_dir,
                label=entry["alert"],
                timeout_s=self.cfg.timeout_s,
            )
            rel = result.report_dir.relative_to(self.cfg.reports_dir).as_posix()
            link = f"{self.cfg.base_url}/reports/{rel}/{entry['runbook']}.html"
            summary = result.summary
            entry.update(status="done", report=str(result.report_dir), verdict=summary.get("status"), link=link)
        except OpskitError as exc:
            summary, link = {"status": "ERROR", "checks": []}, ""
            entry.update(status="failed", error=exc.message)
        self.runs.record(fp, entry)
        self.event(f"{entry['alert']}: {entry['runbook']} -> {summary.get('status')}", link or None)
        self.finished.labels(str(summary.get("status"))).inc()
        msg = _message(entry["alert"], entry["runbook"], summary, link)
        for kind, url in self.cfg.chats:
            ok = post(kind, url, msg, retries=self.cfg.chat_retries, backoff_s=self.cfg.chat_backoff_s)
            log.info("chat %s %s", kind, "delivered" if ok else f"not delivered after {self.cfg.chat_retries} retries")
        return True


def create_app(cfg: ServeConfig, *, start_worker: bool = True) -> FastAPI:
    registry = CollectorRegistry()
    rx = Receiver(cfg, registry)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            rx.work_once()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        if start_worker:
            threading.Thread(target=loop, name="opskit-serve-worker", daemon=True).start()
        yield
        stop.set()

    app = FastAPI(title="opskit serve", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.receiver = rx

    @app.post("/alerts")
    async def alerts(request: Request):
        auth = request.headers.get("authorization", "")
        if not hmac.compare_digest(auth.encode(), f"Bearer {cfg.token}".encode()):
            return JSONResponse({"error": "missing or wrong bearer token"}, status_code=401)
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > cfg.max_body_bytes):
            return JSONResponse({"error": f"payload over {cfg.max_body_bytes} bytes"}, status_code=413)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > cfg.max_body_bytes:
                return JSONResponse({"error": f"payload over {cfg.max_body_bytes} bytes"}, status_code=413)
        try:
            hook = Webhook.model_validate_json(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            reason = f"{'.'.join(str(x) for x in first['loc'])}: {first['msg']}"
            return JSONResponse({"error": f"not an Alertmanager webhook: {reason}"}, status_code=400)
        outcomes = [rx.take(a) for a in hook.alerts]
        for o in outcomes:
            rx.received.labels(o).inc()
        if "full" in outcomes:
            return JSONResponse({"outcomes": outcomes, "error": "queue full, retry later"}, status_code=503)
        return {"outcomes": outcomes}

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "queued": rx.runs.q.qsize()}

    @app.get("/metrics")
    def metrics():
        return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    cfg.reports_dir.mkdir(parents=True, exist_ok=True)
    app.mount("/reports", StaticFiles(directory=cfg.reports_dir, html=True), name="reports")
    return app


def serve(config: str | Path, *, host: str = "127.0.0.1", port: int = 8787) -> None:
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    uvicorn.run(create_app(load_config(config)), host=host, port=port, log_level="warning")
