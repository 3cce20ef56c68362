"""Who killed the worker: a SIGKILL with nothing else to explain it is the host's OOM killer.

The kernel's OOM killer (and a container's memory limit) ends a process with SIGKILL: the launcher reports
``exitcode: -9``, ``terminated with signal SIGKILL``, exit status 137, or the shell prints ``Killed``.
A scheduler that preempts or cancels a job sends SIGTERM first (``Received 15 death signal``, SIGHUP
from a closed terminal, a preemption or cancellation notice). So a SIGKILL finding is re-read as a host
OOM when the logs show no such notice; with one, it stays a kill.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from functools import cache

from opskit.analyses.faults.catalogue import Catalogue, load_catalogue, word_alternation
from opskit.analyses.faults.findings import Finding

# The shell's word for SIGKILL in the languages glibc and bash translate it to: the catalogue's ``killed`` list.
_SIGKILL_FORMS = (
    r"exit ?code[ \t]*:?[ \t]*(-9|137)\b|\(exitcode: -9\)|(?<!\w)SIGKILL(?!\w)|signal[: ]+9\b"
    r"|exit(ed with)? code:?[ \t]*137|return code = -9\b"
    r"|exit status 137|signal: Killed"
)


@cache
def _sigkill(killed: tuple[str, ...]) -> re.Pattern[str]:
    words = rf"|(?<![\w-]){word_alternation(killed)}(?![\w-])" if killed else ""
    return re.compile(_SIGKILL_FORMS + words, re.IGNORECASE)


SIGKILL_REASON = "a SIGKILL with no preemption, cancellation or SIGTERM in the logs: the OOM killer's signature"


def is_sigkill(text: str, catalogue: Catalogue | None = None) -> bool:
    """Whether a kill finding's line names SIGKILL (exit -9 or 137, ``Killed`` in any language)."""
    killed = (catalogue or load_catalogue()).word_list("killed") or ("Killed",)
    return _sigkill(killed).search(text) is not None


def attribute_kills(findings: Iterable[Finding], catalogue: Catalogue) -> list[Finding]:
    """Findings with the SIGKILL kills re-read as host OOM when nothing else explains them."""
    found = list(findings)
    kills = [f for f in found if f.fault == "killed_preempted"]
    host = next((c for c in catalogue.classes if c.name == "host_oom"), None)
    if not kills or host is None or any(not is_sigkill(f.text, catalogue) for f in kills):
        return found
    out = []
    for f in found:
        if f.fault == "killed_preempted":
            f = replace(
                f,
                fault=host.name,
                title=host.title,
                meaning=host.meaning,
                next_step=host.next_step,
                severity=host.severity,
                tier=host.tier,
                runbook=host.runbook,
                details={**f.details, "inferred": SIGKILL_REASON},
            )
        out.append(f)
    return out
