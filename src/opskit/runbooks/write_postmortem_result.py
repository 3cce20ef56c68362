"""write_postmortem's result: verdicts, figures and the postmortem's sections (masked), in the chosen language."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from opskit.analyses.incidents.index import mean_times, recurring_classes
from opskit.analyses.incidents.moments import DerivedTimes
from opskit.analyses.incidents.review import RootCause
from opskit.checks import VerdictTable
from opskit.privacy import mask, mask_frame
from opskit.runbooks.display import Markdown, Outputs, shown_once
from opskit.runbooks.tables import number

NARRATIVE = ("went_well", "went_wrong", "lucky", "lessons")
SECTIONS = (
    "summary",
    "impact",
    "root_cause",
    "trigger",
    "detection",
    "resolution",
    "timeline",
    "went_well",
    "went_wrong",
    "lucky",
    "action_items",
    "lessons",
    "index",
)


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub/Confluence Markdown table of ``frame`` (masked, pipes escaped)."""

    def cell(v: Any) -> str:
        text = "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)
        return (mask(text) or "").replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def _time(ts: Any) -> str:
    return "" if ts is None or pd.isna(ts) else pd.Timestamp(ts).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class WritePostmortemResult:
    """The postmortem's parts. ``section(key)`` shows one (heading + content), ``section_markdown(key)``
    gives the same as Markdown for the wiki export."""

    incident_dir: str
    lang: str
    text: dict[str, Any]
    record: dict[str, Any]
    timeline: pd.DataFrame
    moments: pd.DataFrame
    times: DerivedTimes
    impact: dict[str, Any]
    cause: RootCause | None
    actions: pd.DataFrame
    index: pd.DataFrame
    verdicts: VerdictTable = field(default_factory=lambda: VerdictTable([]))

    @property
    def figures(self) -> dict[str, Any]:
        overdue = int(self.index["overdue_actions"].sum()) if len(self.index) else 0
        return {
            **self.times.as_dict(),
            **{f"impact_{k}": v for k, v in self.impact.items()},
            "severity": self.record.get("severity"),
            "root_cause": self.cause.summary if self.cause else None,
            "root_cause_class": self.cause.cause_class if self.cause else None,
            "events": len(self.timeline),
            "action_items": len(self.actions),
            "overdue_action_items_all_incidents": overdue,
            "lang": self.lang,
        }

    @property
    def headline(self) -> dict[str, Any]:
        """The report header's figures, labelled in the report's language: severity, root cause, time to detect and
        to resolve, action items."""

        words = self.text["headline"]

        def minutes(value: float | None) -> str:
            return words["not_known"] if value is None else words["minutes"].format(value=number(value))

        return {
            words["severity"]: self.record.get("severity") or words["not_set"],
            words["root_cause"]: mask(self.cause.summary) if self.cause else words["not_yet_known"],
            words["time_to_detect"]: minutes(self.times.time_to_detect_min),
            words["time_to_resolve"]: minutes(self.times.time_to_resolve_min),
            words["action_items"]: len(self.actions),
        }

    def heading(self, key: str) -> str:
        return self.text["headings"][key]

    def _say(self, key: str, **values: Any) -> str:
        return self.text["sentences"][key].format(**values)

    def _moment(self, name: str) -> pd.Series | None:
        row = self.moments[(self.moments["moment"] == name) & self.moments["timestamp"].notna()]
        return row.iloc[0] if len(row) else None

    def title(self) -> str:
        return self.text["title"].format(title=self.record.get("title") or self.incident_dir.rsplit("/", 1)[-1])

    def parts(self, key: str) -> list[Any]:
        """The content of section ``key``: Markdown strings and DataFrames (masked)."""
        if key in NARRATIVE:
            return [Markdown((self.record.get("review") or {}).get(key) or self.text["prompts"][key])]
        return getattr(self, f"_{key}")()

    def section(self, key: str) -> Outputs:
        items = [Markdown(f"## {self.heading(key)}")]
        for part in self.parts(key):
            items.append(mask_frame(part) if isinstance(part, pd.DataFrame) else part)
        if key == "timeline" and len(self.timeline):
            items.append(self.timeline_plot())
        return Outputs(items)

    def section_markdown(self, key: str) -> str:
        out = [f"## {self.heading(key)}"]
        for part in self.parts(key):
            out.append(markdown_table(part) if isinstance(part, pd.DataFrame) else str(part))
        return "\n\n".join(out) + "\n"

    def _summary(self) -> list[Any]:
        r = self.record
        if not r:
            return [Markdown(self.text["sentences"]["no_summary"])]
        line = self._say(
            "summary",
            severity=r.get("severity", "?"),
            id=self.incident_dir.rsplit("/", 1)[-1],
            status=r.get("status", "?"),
            title=r.get("title", ""),
        )
        return [Markdown(line + "\n\n" + self.text["sentences"]["blameless"])]

    def _impact(self) -> list[Any]:
        c = self.text["columns"]
        rows = {**self.times.as_dict(), **self.impact}
        return [pd.DataFrame({c["figure"]: list(rows), c["value"]: [("" if v is None else v) for v in rows.values()]})]

    def _root_cause(self) -> list[Any]:
        if self.cause is None:
            return [Markdown(self.text["sentences"]["no_root_cause"])]
        out = self._say(
            "root_cause",
            summary=self.cause.summary,
            cause_class=self.cause.cause_class or "?",
            found_by=self.cause.found_by,
        )
        if self.cause.evidence:
            out += "\n\n" + self._say("evidence", evidence=self.cause.evidence)
        return [Markdown(out)]

    def _trigger(self) -> list[Any]:
        start = self._moment("impact_start")
        deploys = self.timeline[self.timeline["kind"] == "deploy"]
        if start is not None:
            deploys = deploys[deploys["timestamp"] <= start["timestamp"]]
        if not len(deploys):
            return [Markdown(self.text["sentences"]["no_trigger"])]
        last = deploys[deploys["timestamp"] == deploys["timestamp"].max()].iloc[0]  # a person's event first
        return [Markdown(self._say("trigger", summary=last["summary"], time=_time(last["timestamp"])))]

    def _detection(self) -> list[Any]:
        row = self._moment("detected")
        if row is None:
            return [Markdown(self.text["sentences"]["no_detection"])]
        sev = f" ({self.record['severity']})" if self.record.get("severity") else ""
        return [
            Markdown(
                self._say(
                    "detection", summary=row["summary"] or row["basis"], time=_time(row["timestamp"]), severity=sev
                )
            )
        ]

    def _resolution(self) -> list[Any]:
        rows = [self._moment(m) for m in ("mitigated", "resolved")]
        said = [
            self._say("resolution", moment=r["moment"], time=_time(r["timestamp"]), summary=r["summary"] or r["basis"])
            for r in rows
            if r is not None
        ]
        return [Markdown("\n\n".join(said) or self.text["sentences"]["no_resolution"])]

    def _timeline(self) -> list[Any]:
        if not len(self.timeline):
            return [Markdown(self.text["sentences"]["no_events"])]
        c = self.text["columns"]
        moments = self.moments.assign(timestamp=self.moments["timestamp"].map(_time))
        moments = moments.rename(columns={k: c[k] for k in ("moment", "timestamp", "basis", "summary")})
        events = self.timeline[["timestamp", "kind", "source", "summary", "author"]].assign(
            timestamp=self.timeline["timestamp"].map(_time)
        )
        return [moments, events]

    def timeline_plot(self):
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(9, 2.6), layout="constrained")
        kinds = sorted(self.timeline["kind"].unique())
        for i, kind in enumerate(kinds):
            at = self.timeline.loc[self.timeline["kind"] == kind, "timestamp"]
            ax.scatter(at.dt.tz_localize(None), [i] * len(at), label=kind)
        for row in self.moments.dropna(subset=["timestamp"]).itertuples():
            ax.axvline(pd.Timestamp(row.timestamp).tz_localize(None), color="#999", lw=0.8, ls="--")
        ax.set_yticks(range(len(kinds)), kinds)
        ax.set_xlabel("time (UTC); dashed: key moments")
        return shown_once(ax)

    def _action_items(self) -> list[Any]:
        if not len(self.actions):
            return [Markdown(self.text["sentences"]["no_actions"])]
        shown = self.actions.assign(
            owner=[
                f"{o}*" if s else o for o, s in zip(self.actions["owner"], self.actions["owner_suggested"], strict=True)
            ]
        )
        out: list[Any] = [shown.drop(columns=["owner_suggested"])]
        if self.actions["owner_suggested"].any():
            out.append(Markdown(self.text["sentences"]["owner_suggested"]))
        return out

    def _index(self) -> list[Any]:
        if len(self.index) < 2:
            return [Markdown(self.text["sentences"]["no_index"])]
        overdue = self.index[self.index["overdue_actions"] > 0][["id", "title", "overdue_actions"]]
        return [
            self.index,
            recurring_classes(self.index),
            mean_times(self.index),
            Markdown(f"**{self.text['sentences']['overdue']}**"),
            overdue,
        ]
