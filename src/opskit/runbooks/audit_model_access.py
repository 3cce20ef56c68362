"""A model registry's access log audited against its RBAC policy: off-role access, new principals, off-hours,
bulk downloads, repeated denials, and a summary per model and principal.

``runbooks/audit_model_access.ipynb`` narrates this module. :func:`run` reads the log (malformed lines
are counted and named by line, the rest analysed) and the policy, builds the settings once and hands
both to the ``models`` area. An input that cannot be read becomes an ERROR row; a sample policy is
never judged beside a real log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from opskit.analyses.models.access_audit import (
    RULES,
    AccessAudit,
    AccessAuditSettings,
    WorkingHours,
    audit_access,
    judge_access,
    mask_principal,
)
from opskit.checks import Status, Verdict, VerdictTable, error_verdict
from opskit.runbooks.display import Markdown, table, unavailable
from opskit.samples import resolve, sample_beside_real_input
from opskit.sources.rbac_policy import read_rbac_policy
from opskit.sources.registry_access_logs import read_registry_access_log


@dataclass(frozen=True)
class AuditModelAccessResult:
    """The verdicts, and the audit (None when the log or the policy could not be read)."""

    verdicts: VerdictTable
    audit: AccessAudit | None = None
    settings: AccessAuditSettings = field(default_factory=AccessAuditSettings)

    @property
    def figures(self) -> dict[str, Any]:
        """Requests, principals, malformed lines and findings per rule, for ``summary.json``."""
        if self.audit is None:
            return {}
        counts = self.audit.findings["rule"].value_counts()
        return {
            "requests": self.audit.requests,
            "principals": self.audit.principals,
            "malformed_lines": len(self.audit.malformed),
            **{f"findings_{rule.replace(' ', '_').replace('-', '_')}": int(counts.get(rule, 0)) for rule in RULES},
        }

    @property
    def headline(self) -> dict[str, Any]:
        """The report header's figures: requests and principals read, and which rules fired (FAIL, then WARN)."""
        if self.audit is None:
            return {}

        def rules(status: Status) -> str:
            names = dict.fromkeys(v.name for v in self.verdicts.by_status(status))
            return ", ".join(names) or "none"

        return {
            "requests": self.audit.requests,
            "principals": self.audit.principals,
            "rules that FAIL": rules(Status.FAIL),
            "rules that WARN": rules(Status.WARN),
        }

    def findings_table(self) -> pd.DataFrame | Markdown:
        """Every finding, in time order, principals masked."""
        if self.audit is None:
            return unavailable("The findings")
        findings = _principals_masked(self.audit.findings)
        return table(findings, empty="No finding: every request fits the policy and the calendar.")

    def summary_table(self) -> pd.DataFrame | Markdown:
        """Requests per model and principal, by action, with denials and the rules that flagged them."""
        if self.audit is None:
            return unavailable("The summary per model and principal")
        return table(_principals_masked(self.audit.summary))

    def malformed_lines(self) -> pd.DataFrame | Markdown:
        """The lines that could not be read, by number (masked)."""
        if self.audit is None:
            return unavailable("The access log")
        frame = pd.DataFrame(self.audit.malformed, columns=["line", "text"])
        return table(frame, empty="Every line of the log was read.")

    def calendar(self) -> Markdown:
        """The working-hours calendar and thresholds the audit used."""
        s, h = self.settings, self.settings.hours
        days = ", ".join(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[d] for d in h.days)
        return Markdown(
            f"Working hours {h.start:%H:%M}-{h.end:%H:%M} ({h.timezone}) on {days}; bulk download: "
            f"{s.bulk_downloads} downloads within {_minutes(s.bulk_window)}; repeated denials: {s.denial_burst} "
            f"within {_minutes(s.denial_window)}; baseline: {s.baseline_days:g} day(s)."
        )


def _minutes(span: pd.Timedelta) -> str:
    return f"{span.total_seconds() / 60:g} min"


def _principals_masked(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(principal=frame["principal"].map(mask_principal))


def run(
    *,
    access_log: str = "sample:registry_access",
    policy: str = "sample:registry_access_policy",
    log_format: Literal["auto", "combined", "envoy", "json"] = "auto",
    timezone: str = "UTC",
    work_hours: str = "08:00-19:00",
    work_days: str = "Mon-Fri",
    bulk_downloads: int = 20,
    bulk_window_minutes: float = 60.0,
    denial_burst: int = 5,
    denial_window_minutes: float = 10.0,
    baseline_days: float = 0.0,
) -> AuditModelAccessResult:
    """Audit ``access_log`` (a path or ``sample:NAME``) against the RBAC ``policy`` (YAML).

    Never raises on bad input: a log, policy or setting that cannot be used is an ERROR row.
    """
    try:
        settings = AccessAuditSettings(
            hours=WorkingHours.parse(work_hours, work_days, timezone),
            bulk_downloads=bulk_downloads,
            bulk_window=pd.Timedelta(minutes=bulk_window_minutes),
            denial_burst=denial_burst,
            denial_window=pd.Timedelta(minutes=denial_window_minutes),
            baseline_days=baseline_days,
        )
    except Exception as exc:  # a bad setting is a visible ERROR row
        return AuditModelAccessResult(VerdictTable([error_verdict("settings", exc)]))
    rows: list[Verdict] = []
    log = rbac = None
    try:
        log = read_registry_access_log(resolve(access_log), log_format)
    except Exception as exc:  # becomes a visible ERROR row; the policy is still read
        rows.append(error_verdict("access log", exc))
    if sample_beside_real_input(policy, access_log):
        rows.append(
            Verdict(
                "rbac policy",
                Status.ERROR,
                message="the sample policy cannot judge a real log",
                next_step="rerun with -p policy rbac.yaml (roles, principals)",
            )
        )
    else:
        try:
            rbac = read_rbac_policy(resolve(policy))
        except Exception as exc:  # becomes a visible ERROR row
            rows.append(error_verdict("rbac policy", exc))
    if log is None or rbac is None:
        return AuditModelAccessResult(VerdictTable(rows), settings=settings)
    audit = audit_access(log, rbac, settings)
    return AuditModelAccessResult(judge_access(audit), audit=audit, settings=settings)
