"""Audit of a model registry's access log against its RBAC policy: the rules, the findings, the verdicts.

Rules (each finding names the principal, the model, the first log line and what was seen):

- ``off-role access``: a request that succeeded although none of the principal's roles allows that
  action on that model (principals of the policy only; the others are new principals);
- ``new principal``: a principal the policy does not name, or (``baseline_days`` > 0) one first seen
  after the baseline period at the start of the log;
- ``off-hours access``: requests outside the working-hours calendar, in its time zone, one finding
  per principal and local day;
- ``bulk download``: at least ``bulk_downloads`` successful downloads by one principal within
  ``bulk_window``; ``repeated denials``: at least ``denial_burst`` 401/403 answers within ``denial_window``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from opskit.checks import Status, Verdict, VerdictTable
from opskit.errors import InputError
from opskit.privacy import current_policy, mask
from opskit.sources.rbac_policy import RbacPolicy
from opskit.sources.registry_access_logs import RegistryAccessLog

RULES = ("off-role access", "new principal", "off-hours access", "bulk download", "repeated denials")
_STATUS = {
    "off-role access": Status.FAIL,
    "new principal": Status.WARN,
    "off-hours access": Status.WARN,
    "bulk download": Status.FAIL,
    "repeated denials": Status.FAIL,
}
_NEXT = {
    "off-role access": "confirm with the principal's owner; revoke the grant that let it through or add the role",
    "new principal": "identify the principal and add it to the policy with its role, or block it",
    "off-hours access": "confirm the access was expected (on-call, scheduled job); else treat as an incident",
    "bulk download": "check who holds the downloaded artifacts; rotate credentials if the download was not expected",
    "repeated denials": "look for a misconfigured client or credential guessing; lock the principal if unexplained",
}
FINDING_COLUMNS = ["rule", "principal", "model", "first", "last", "count", "line", "detail"]
_DENIED = (401, 403)
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class WorkingHours:
    """A working-hours calendar: week days (0 = Monday), start and end in local time, holidays."""

    timezone: str = "UTC"
    days: tuple[int, ...] = (0, 1, 2, 3, 4)
    start: time = time(8, 0)
    end: time = time(19, 0)
    holidays: tuple[date, ...] = ()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InputError(
                f"unknown time zone {self.timezone!r}",
                column="timezone",
                hint="an IANA name such as 'Europe/Berlin' or 'UTC'",
            ) from exc
        if self.start >= self.end:
            raise InputError(f"working hours end {self.end} before they start {self.start}", column="work_hours")

    @classmethod
    def parse(cls, hours: str, days: str, timezone: str = "UTC", holidays: tuple[str, ...] = ()) -> WorkingHours:
        """From ``"08:00-19:00"``, ``"Mon-Fri"`` (or ``"Mon,Wed"``), a zone name and ISO holiday dates."""
        try:
            start, end = (time.fromisoformat(p.strip()) for p in hours.split("-"))
        except ValueError as exc:
            raise InputError(f"work_hours {hours!r} is not HH:MM-HH:MM", column="work_hours") from exc
        chosen: list[int] = []
        for part in days.lower().replace(" ", "").split(","):
            ends = part.split("-")
            if not all(e[:3] in _DAYS for e in ends) or len(ends) > 2:
                raise InputError(f"work_days {days!r}: use names such as Mon-Fri or Mon,Wed", column="work_days")
            first, last = _DAYS.index(ends[0][:3]), _DAYS.index(ends[-1][:3])
            chosen.extend(range(first, last + 1))
        off = tuple(date.fromisoformat(d) for d in holidays)
        return cls(timezone, tuple(sorted(set(chosen))), start, end, off)

    def off_hours(self, stamps: pd.Series) -> pd.Series:
        """True for each UTC timestamp outside working hours in the calendar's zone."""
        local = stamps.dt.tz_convert(self.timezone)
        clock = local.dt.time
        working = local.dt.day_of_week.isin(self.days) & (clock >= self.start) & (clock < self.end)
        if self.holidays:
            working &= ~local.dt.date.isin(self.holidays)
        return ~working


@dataclass(frozen=True)
class AccessAuditSettings:
    """The audit's thresholds and calendar, built once by the runbook."""

    hours: WorkingHours = field(default_factory=WorkingHours)
    bulk_downloads: int = 20
    bulk_window: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(hours=1))
    denial_burst: int = 5
    denial_window: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(minutes=10))
    baseline_days: float = 0.0

    def __post_init__(self) -> None:
        for name in ("bulk_downloads", "denial_burst"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1", column=name)


@dataclass(frozen=True)
class AccessAudit:
    """The findings (:data:`FINDING_COLUMNS`), the summary per model and principal, and the log's figures."""

    findings: pd.DataFrame
    summary: pd.DataFrame
    requests: int
    principals: int
    malformed: tuple[tuple[int, str], ...] = ()
    unidentified: int = 0


def mask_principal(principal: str | None) -> str | None:
    """``principal`` masked by the current policy; e-mail addresses become a salted token, not a bare ``<email>``,
    so a report still tells its principals apart (the token is stable within one report only)."""
    policy = current_policy()
    return mask(principal, policy=replace(policy, operator="hash") if policy.operator == "mask" else policy)


def _finding(rule: str, rows: pd.DataFrame, detail: str, model: str | None = None) -> dict:
    models = rows["model"].dropna().unique()
    return {
        "rule": rule,
        "principal": rows["principal"].iloc[0],
        "model": model if model is not None else (", ".join(sorted(models)) if len(models) else "-"),
        "first": rows["timestamp"].min(),
        "last": rows["timestamp"].max(),
        "count": len(rows),
        "line": int(rows.index.min()),
        "detail": detail,
    }


def _bursts(rows: pd.DataFrame, threshold: int, window: pd.Timedelta) -> list[pd.DataFrame]:
    """Episodes in which ``threshold`` rows of one principal fall within ``window``: the rows of each episode."""
    times = rows["timestamp"].sort_values()
    values = times.to_numpy()
    hot = pd.Series(False, index=times.index)
    for i in range(len(values) - threshold + 1):
        if values[i + threshold - 1] - values[i] <= window.to_timedelta64():
            hot.iloc[i : i + threshold] = True
    flagged = times[hot]
    if flagged.empty:
        return []
    episode = (flagged.diff() > window).cumsum()
    return [rows.loc[idx] for _, idx in flagged.groupby(episode).groups.items()]


def find_violations(log: RegistryAccessLog, policy: RbacPolicy, settings: AccessAuditSettings) -> pd.DataFrame:
    """Every finding of the five rules, sorted by time."""
    frame = log.frame[log.frame["principal"].notna()].sort_values("timestamp")
    found: list[dict] = []
    ok = frame["status"] < 400
    known = frame["principal"].map(policy.knows)
    models = frame["model"].astype(object).where(frame["model"].notna(), None)
    allowed = pd.Series(
        [policy.allows(p, a, m) for p, a, m in zip(frame["principal"], frame["action"], models, strict=True)],
        index=frame.index,
        dtype=bool,
    )
    off_role = frame[ok & known & ~allowed]
    for (principal, model, action), rows in off_role.groupby(["principal", off_role["model"].fillna("-"), "action"]):
        roles = ", ".join(policy.roles_of(principal)) or "none"
        found.append(_finding("off-role access", rows, f"{action} not allowed for role(s) {roles}", model))
    start = frame["timestamp"].min()
    baseline_end = start + pd.Timedelta(days=settings.baseline_days)
    for principal, rows in frame.groupby("principal"):
        if not policy.knows(principal):
            found.append(_finding("new principal", rows, "not named in the policy"))
        elif settings.baseline_days > 0 and rows["timestamp"].min() > baseline_end:
            found.append(
                _finding("new principal", rows, f"first seen after the {settings.baseline_days:g}-day baseline")
            )
    off = frame[settings.hours.off_hours(frame["timestamp"])]
    local_day = off["timestamp"].dt.tz_convert(settings.hours.timezone).dt.date
    for (_, day), rows in off.groupby(["principal", local_day]):
        found.append(_finding("off-hours access", rows, f"{len(rows)} request(s) on {day} outside working hours"))
    downloads = frame[ok & (frame["action"] == "download")]
    for _, rows in downloads.groupby("principal"):
        for episode in _bursts(rows, settings.bulk_downloads, settings.bulk_window):
            found.append(
                _finding("bulk download", episode, f"{len(episode)} downloads, {int(episode['bytes'].sum())} bytes")
            )
    denied = frame[frame["status"].isin(_DENIED)]
    for _, rows in denied.groupby("principal"):
        for episode in _bursts(rows, settings.denial_burst, settings.denial_window):
            codes = ", ".join(str(c) for c in sorted(episode["status"].unique()))
            found.append(_finding("repeated denials", episode, f"{len(episode)} denials ({codes})"))
    out = pd.DataFrame(found, columns=FINDING_COLUMNS)
    return out.sort_values(["first", "rule"], kind="stable").reset_index(drop=True)


def summarize(log: RegistryAccessLog, findings: pd.DataFrame) -> pd.DataFrame:
    """Requests per model and principal: by action, denials, first and last, and the rules that flagged it."""
    frame = log.frame.assign(model=log.frame["model"].fillna("-"), principal=log.frame["principal"].fillna("-"))
    counts = pd.crosstab([frame["model"], frame["principal"]], frame["action"])
    out = pd.DataFrame(index=counts.index)
    for action in ("read", "download", "write", "delete"):
        out[action] = counts.get(action, 0)
    grouped = frame.groupby(["model", "principal"])
    out["requests"] = grouped.size()
    out["denied"] = grouped["status"].agg(lambda s: int(s.isin(_DENIED).sum()))
    out["first"], out["last"] = grouped["timestamp"].min(), grouped["timestamp"].max()
    flags: dict[tuple[str, str], set[str]] = {}
    for hit in findings.itertuples():
        for model in str(hit.model).split(", "):
            flags.setdefault((model, hit.principal), set()).add(hit.rule)
    out["flags"] = [", ".join(sorted(flags.get(key, ()))) for key in out.index]
    return out.reset_index()


def audit_access(log: RegistryAccessLog, policy: RbacPolicy, settings: AccessAuditSettings) -> AccessAudit:
    """The findings and the summary of ``log`` under ``policy``."""
    findings = find_violations(log, policy, settings)
    named = log.frame["principal"].dropna()
    return AccessAudit(
        findings,
        summarize(log, findings),
        requests=len(log.frame),
        principals=named.nunique(),
        malformed=log.malformed,
        unidentified=int(log.frame["principal"].isna().sum()),
    )


def judge_access(audit: AccessAudit) -> VerdictTable:
    """One verdict per finding (PASS per rule without one), and the log's completeness."""
    rows: list[Verdict] = []
    if audit.malformed:
        numbers = ", ".join(str(n) for n, _ in audit.malformed[:10]) + (" ..." if len(audit.malformed) > 10 else "")
        rows.append(
            Verdict(
                "access log",
                Status.WARN,
                observed=len(audit.malformed),
                unit="malformed lines",
                evidence=f"line {audit.malformed[0][0]}: {audit.malformed[0][1][:120]}",
                message=f"{len(audit.malformed)} line(s) not read (line(s) {numbers}); {audit.requests} analysed",
                next_step="check log_format; fix or drop those lines",
            )
        )
    else:
        rows.append(Verdict("access log", Status.PASS, observed=audit.requests, unit="requests"))
    if audit.unidentified:
        rows.append(
            Verdict(
                "unidentified requests",
                Status.WARN,
                observed=audit.unidentified,
                unit="requests",
                message="requests without a principal cannot be checked against the policy",
                next_step="log the authenticated user ($remote_user, or a header in Envoy's format)",
            )
        )
    for rule in RULES:
        hits = audit.findings[audit.findings["rule"] == rule]
        if hits.empty:
            rows.append(Verdict(rule, Status.PASS, observed=0, unit="findings"))
        for hit in hits.itertuples():
            rows.append(
                Verdict(
                    rule,
                    _STATUS[rule],
                    subject=mask_principal(hit.principal),
                    observed=hit.count,
                    unit="requests",
                    evidence=f"line {hit.line}: {hit.first:%Y-%m-%d %H:%M} UTC, model {hit.model}",
                    message=hit.detail,
                    next_step=_NEXT[rule],
                )
            )
    return VerdictTable(rows)
