"""Chat messages of a handled alert, each platform in its own webhook format, posted with retries.

Formats: Slack incoming webhook (``text`` + ``blocks``), Feishu/Lark custom bot (``msg_type: post``),
DingTalk robot (``msgtype: markdown``), WeCom group robot (``msgtype: markdown``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger("opskit.serve")
KINDS = ("slack", "feishu", "dingtalk", "wecom")


@dataclass(frozen=True)
class ChatMessage:
    title: str  # e.g. "OpskitGpuHot -> report_gpu_cost: FAIL"
    verdict: str  # the run's status
    lines: tuple[str, ...]  # the worst checks, one line each
    link: str  # the report's URL

    def text(self) -> str:
        return "\n".join([f"{self.title}", f"verdict: {self.verdict}", *self.lines, f"report: {self.link}"])


def markdown_blocks(*blocks: str) -> str:
    """Blocks separated by blank lines: in Markdown a single line end joins two lines into one paragraph,
    and a line after a list continues its last item."""
    return "\n\n".join(b for b in blocks if b)


def payload(kind: str, msg: ChatMessage) -> dict[str, Any]:
    """The webhook body for ``kind`` (one of KINDS)."""
    body = "\n".join(f"- {line}" for line in msg.lines)
    if kind == "slack":
        return {
            "text": msg.text(),
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": msg.title}},
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*verdict: {msg.verdict}*\n{body}"}},
                {"type": "section", "text": {"type": "mrkdwn", "text": f"<{msg.link}|open the report>"}},
            ],
        }
    if kind == "feishu":
        content = [[{"tag": "text", "text": f"verdict: {msg.verdict}"}]]
        content += [[{"tag": "text", "text": line}] for line in msg.lines]
        content.append([{"tag": "a", "text": "open the report", "href": msg.link}])
        return {"msg_type": "post", "content": {"post": {"zh_cn": {"title": msg.title, "content": content}}}}
    if kind == "dingtalk":
        link = f"[open the report]({msg.link})"
        text = markdown_blocks(f"### {msg.title}", f"**verdict: {msg.verdict}**", body, link)
        return {"msgtype": "markdown", "markdown": {"title": msg.title, "text": text}}
    if kind == "wecom":
        verdict = f'<font color="warning">{msg.verdict}</font>'
        text = markdown_blocks(f"**{msg.title}**", f"verdict: {verdict}", body, f"[open the report]({msg.link})")
        return {"msgtype": "markdown", "markdown": {"content": text}}
    raise ValueError(f"unknown chat kind {kind!r}; known: {', '.join(KINDS)}")


def post(kind: str, url: str, msg: ChatMessage, *, retries: int = 3, backoff_s: float = 1.0) -> bool:
    """Post ``msg``; retry ``retries`` times on errors or non-2xx; True when delivered. Never raises."""
    body = payload(kind, msg)
    for attempt in range(1, retries + 2):
        try:
            r = httpx.post(url, json=body, timeout=10.0)
            if r.status_code < 300:
                return True
            log.warning("chat %s answered %s (attempt %d)", kind, r.status_code, attempt)
        except httpx.HTTPError as exc:
            log.warning("chat %s failed: %s (attempt %d)", kind, exc, attempt)
        if attempt <= retries:
            time.sleep(backoff_s * attempt)
    return False
