"""Each chat platform gets its own webhook format; a chat that is down is retried, then given up."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from opskit.monitoring.chat import KINDS, ChatMessage, payload, post

MSG = ChatMessage("OpskitGpuHot -> report_gpu_cost: FAIL", "FAIL", ("FAIL team hot vision",), "http://h/r.html")


@pytest.mark.parametrize("kind", KINDS)
def test_each_format_carries_verdict_and_link(kind):
    body = payload(kind, MSG)
    flat = repr(body)
    assert "FAIL" in flat and "http://h/r.html" in flat
    key = {"slack": "blocks", "feishu": "msg_type", "dingtalk": "msgtype", "wecom": "msgtype"}[kind]
    assert key in body
    if kind == "feishu":
        assert body["msg_type"] == "post"
    if kind in ("dingtalk", "wecom"):
        assert body["msgtype"] == "markdown"


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="slack"):
        payload("teams", MSG)


def test_down_chat_is_retried_the_stated_number_of_times():
    calls = []

    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            calls.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(503 if len(calls) < 3 else 200)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = HTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    url = f"http://127.0.0.1:{srv.server_port}/hook"
    try:
        assert post("slack", url, MSG, retries=3, backoff_s=0.0) is True
        assert len(calls) == 3
        calls.clear()
        assert post("slack", url, MSG, retries=1, backoff_s=0.0) is False
        assert len(calls) == 2  # first try + 1 retry
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("kind", ["dingtalk", "wecom"])
def test_markdown_messages_keep_title_verdict_list_and_link_apart(kind):
    import mistune

    msg = ChatMessage("GpuHot -> report_gpu_cost: FAIL", "FAIL", ("FAIL team a", "WARN team b"), "http://h/r.html")
    body = payload(kind, msg)["markdown"]
    page = mistune.html(body.get("text") or body.get("content"))
    items = page.split("<li>")[1:]
    assert [i.split("</li>")[0].strip() for i in items] == ["FAIL team a", "WARN team b"]  # the link is not in one
    assert "open the report</a>" in page.split("</ul>")[1]
    title_block = page.split("\n")[0]
    assert "verdict" not in title_block  # the title's line is not joined to the verdict's
