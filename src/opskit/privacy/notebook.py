"""The final pass: every text an executed notebook shows, and its summary, through the one policy.

A runbook masks what it shows; this pass is the net under it, run by the engine before the HTML is
rendered, so nothing a runbook forgot reaches a report: text/plain, text/markdown and text/html
outputs, JSON outputs (``application/json`` and ``+json`` types, every string in them), stream
outputs, error messages and markdown cells. It is idempotent (values already
masked are kept and not counted again), so it only counts what it newly hid. Images (PNG, SVG,
JPEG) are not scanned: text drawn into a figure must be masked by the runbook before plotting.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from typing import Any

from opskit.privacy import MaskingPolicy, counting, mask

TEXT_TYPES = ("text/plain", "text/markdown", "text/latex")
# a key block whose BEGIN line was masked on its own (an excerpt masked line by line): its body to END
_KEY_TAIL = re.compile(
    r"(<(?:[a-z]+ )*private-key>|&lt;(?:[a-z]+ )*private-key&gt;).*?-----END [A-Z ]*PRIVATE KEY-----", re.S
)


def _mask_text(text: str, policy: MaskingPolicy) -> str:
    text = mask(text, policy=policy)
    if "PRIVATE KEY-----" in text and policy.operator == "mask" and "private_key" in policy.kinds:
        text, n = _KEY_TAIL.subn(r"\1", text)
        if n:
            _bump("private_key", n)
    return text


def _bump(kind: str, n: int) -> None:
    from opskit.privacy import _COUNTS, _GLOBAL_COUNTS

    _COUNTS.get(_GLOBAL_COUNTS)[kind] += n


_TAG = re.compile(r"(<[^>]*>)")


def mask_html(text: str, policy: MaskingPolicy) -> str:
    """Mask an HTML fragment: text between tags unescaped, masked and escaped again when changed;
    inside tags (attributes: links, titles) masked with the replacements escaped."""
    parts = _TAG.split(text)
    for k, part in enumerate(parts):
        if not part:
            continue
        if k % 2:  # a tag
            masked = _mask_text(part, policy)
            if masked != part:
                parts[k] = _escape_tokens(part, masked)
        else:
            plain = html.unescape(part)
            masked = _mask_text(plain, policy)
            if masked != plain:
                parts[k] = html.escape(masked, quote=False)
    return "".join(parts)


def _escape_tokens(before: str, after: str) -> str:
    """``after`` with the ``<kind>`` tokens the policy put into a tag written as entities."""
    tokens = set(re.findall(r"<[a-z0-9_ -]+(?::[0-9a-f]{12})?>", after)) - set(re.findall(r"<[^<>]*>", before))
    for token in tokens:
        after = after.replace(token, html.escape(token))
    return after


def _source(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def mask_notebook(nb: Any, policy: MaskingPolicy | None = None) -> Counter[str]:
    """Mask ``nb`` (an nbformat notebook, changed in place); returns what this pass newly hid, per kind."""
    policy = policy or MaskingPolicy()
    with counting() as counts:
        if not policy.enabled:
            return counts
        for cell in nb.cells:
            injected = "injected-parameters" in cell.get("metadata", {}).get("tags", [])
            if cell.get("cell_type") == "markdown" or injected:  # a stored report is a record, not for re-running
                cell["source"] = _mask_text(_source(cell.get("source", "")), policy)
            for output in cell.get("outputs", []):
                _mask_output(output, policy)
        # papermill's record of the run (parameters, input and output paths) is part of the stored report too
        record = nb.get("metadata", {}).get("papermill")
        if isinstance(record, dict):
            nb["metadata"]["papermill"] = mask_value(record, policy)
    return counts


def _mask_output(output: Any, policy: MaskingPolicy) -> None:
    kind = output.get("output_type")
    if kind == "stream":
        output["text"] = _mask_text(_source(output.get("text", "")), policy)
    elif kind == "error":
        output["evalue"] = mask(str(output.get("evalue", "")), policy=policy)
        output["traceback"] = [mask(line, policy=policy) for line in output.get("traceback", [])]
    data = output.get("data") or {}
    for mime in list(data):
        if mime in TEXT_TYPES:
            data[mime] = _mask_text(_source(data[mime]), policy)
        elif mime == "text/html":
            data[mime] = mask_html(_source(data[mime]), policy)
        elif mime == "application/json" or mime.endswith("+json"):  # stored in the notebook, read by tools
            data[mime] = mask_value(data[mime], policy)


def mask_value(value: Any, policy: MaskingPolicy | None = None) -> Any:
    """Every string inside ``value`` (dicts, lists) masked; keys, numbers and None as they are."""
    policy = policy or MaskingPolicy()
    if isinstance(value, str):
        return mask(value, policy=policy)
    if isinstance(value, dict):
        return {k: mask_value(v, policy) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(v, policy) for v in value]
    return value


def final_pass(nb: Any, summary: dict[str, Any], *, enabled: bool = True) -> dict[str, Any]:
    """Mask ``nb`` in place and return ``summary`` masked, its ``masking`` entry telling the truth:
    off when the run was asked to run unmasked, else the runbook's counts plus this pass's own
    (also under ``final_pass``, so a runbook that forgets to mask shows up)."""
    published = dict(summary.get("masking") or {})
    if not enabled:
        return {**summary, "masking": {**published, "enabled": False, "counts": published.get("counts") or {}}}
    policy = MaskingPolicy(operator=published.get("operator", "mask"))
    with counting() as counts:
        found = mask_notebook(nb, policy)
        masked = mask_value({k: v for k, v in summary.items() if k != "masking"}, policy)
    found.update(counts)
    total = Counter(published.get("counts") or {})
    total.update(found)
    masked["masking"] = {
        "enabled": True,
        "operator": policy.operator,
        "counts": dict(sorted(total.items())),
        "final_pass": dict(sorted(found.items())),
    }
    return masked
