"""What to change, with money attached, and how the week compares with the one before.

Each rule reads the usage and cost of one week and says what to do and what it saves per week, in the
cost's currency (NaN when a price is unknown):

- **release**: GPUs idle most of the week (a reservation nobody uses) are returned;
- **consolidate**: an underused team's load fits on fewer GPUs. The GPUs kept are never fewer than
  the observed peak load (in GPU-equivalents: the sum of utilization over the team's GPUs in its
  busiest hour) divided by a target utilization (lower for serving, to keep headroom), nor fewer
  than the peak itself: availability of serving workloads is kept;
- **reserve**: per team and GPU model, reserved capacity for the GPUs in use at least the break-even
  share of the week's hours, where break-even = reserved price / on-demand price (only when priced
  on-demand; GPUs released or consolidated away are not counted);
- **spot**: the training hours above that steady level (bursty, checkpointed jobs) can run on spot
  capacity (savings net of an allowance for preempted work); steady training is reserved instead;
- **off-peak**: serving GPUs that sit spare at night can take batch work (evaluation, re-indexing)
  instead of separate GPUs.

Serving and training are told apart by the names of jobs, namespaces and projects
(:class:`RecommendationSettings`).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from opskit.analyses.gpu_fleet.cost import CostResult
from opskit.analyses.gpu_fleet.usage import UsageResult
from opskit.errors import InputError

KINDS = ("release", "consolidate", "reserve", "spot", "off_peak")


@dataclass(frozen=True)
class RecommendationSettings:
    """How recommendations are made; every field is a runbook parameter."""

    serving_pattern: str = r"serv|infer|online|endpoint|api"
    training_pattern: str = r"train|finetune|fine-tune|pretrain"
    release_idle_share: float = 0.5  # release a GPU idle at least this share of its hours
    serving_target_pct: float = 60.0  # utilization a consolidated serving GPU may reach at peak
    training_target_pct: float = 85.0
    spot_overhead: float = 0.15  # share of spot hours lost to preemption and restarts
    off_peak_share: float = 0.5  # an hour is off-peak when load is below this share of the peak
    min_savings: float = 1.0  # recommendations saving less per week are left out

    def __post_init__(self) -> None:
        """An invalid regex is an InputError naming its parameter, not a ``re.error`` from deep inside."""
        for name in ("serving_pattern", "training_pattern"):
            try:
                re.compile(getattr(self, name))
            except (re.error, TypeError) as exc:
                raise InputError(
                    f"parameter {name}: {getattr(self, name)!r} is not a valid regular expression ({exc})",
                    column=name,
                    hint=f"pass a Python regex, e.g. {name}='serv|infer|api' (escape ( [ + * ? with a backslash)",
                ) from None

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"setting": k, "value": v} for k, v in asdict(self).items()]).set_index("setting")


@dataclass(frozen=True)
class Recommendation:
    kind: str
    subject: str
    action: str
    gpus: float
    savings_per_week: float
    currency: str
    evidence: str
    caveat: str = ""


@dataclass(frozen=True)
class RecommendationResult:
    items: tuple[Recommendation, ...]
    settings: RecommendationSettings
    currency: str

    @property
    def total_savings(self) -> float:
        return float(sum(r.savings_per_week for r in self.items if not math.isnan(r.savings_per_week)))

    def to_frame(self) -> pd.DataFrame:
        cols = list(Recommendation.__dataclass_fields__)
        return pd.DataFrame([asdict(r) for r in self.items], columns=cols)


def workload_of(rows: pd.DataFrame, settings: RecommendationSettings) -> pd.Series:
    """Per row: ``serving``, ``training`` or ``other`` from job, namespace and project names."""
    cols = [c for c in ("job", "namespace", "pod", "project") if c in rows.columns]
    if not cols:
        return pd.Series("other", index=rows.index)
    # classify each distinct combination of names once, not each row
    combos = rows[cols].astype(object).where(rows[cols].notna(), "")
    codes, uniques = pd.MultiIndex.from_frame(combos).factorize()
    texts = [" ".join(map(str, u)).lower() for u in uniques]
    serving = re.compile(settings.serving_pattern, re.IGNORECASE)
    training = re.compile(settings.training_pattern, re.IGNORECASE)
    kinds = np.array(
        ["serving" if serving.search(t) else "training" if training.search(t) else "other" for t in texts] or ["other"]
    )
    return pd.Series(kinds[codes], index=rows.index)


def _fmt(hour: pd.Timestamp) -> str:
    return hour.strftime("%a %H:%M")


def _price(cost: CostResult, model: str, pricing: str | None = None) -> float:
    if model not in cost.prices.index:
        return math.nan
    col = "price_per_gpu_hour" if pricing is None else pricing
    value = cost.prices.loc[model, col]
    return float(value) if value == value else math.nan


def _release(usage: UsageResult, cost: CostResult, s: RecommendationSettings) -> list[Recommendation]:
    g = cost.gpus
    idle = g[(g["idle_gpu_hours"] >= s.release_idle_share * g["gpu_hours"]) & (g["idle_gpu_hours"] > 0)]
    out = []
    for host, part in idle.groupby(level="host"):
        hours = float(part["idle_gpu_hours"].sum())
        team = part["team"].mode().iat[0]
        out.append(
            Recommendation(
                kind="release",
                subject=str(host),
                action=f"release or return the {len(part)} idle GPUs of {host} ({team})",
                gpus=float(len(part)),
                savings_per_week=float(part["idle_cost"].sum(min_count=1)),
                currency=cost.currency,
                evidence=f"{hours:,.0f} idle GPU-hours of {float(part['gpu_hours'].sum()):,.0f} present",
                caveat="ask the team whether the reservation is still needed before releasing it",
            )
        )
    return out


def _team_load(usage: UsageResult, team: str, model: str) -> pd.DataFrame:
    h = usage.hourly[(usage.hourly["team"] == team) & (usage.hourly["model"] == model)]
    return h.groupby("hour").agg(equiv=("util_mean_pct", lambda x: x.fillna(0).sum() / 100), gpus=("gpu", "size"))


def _consolidate(usage, cost, s, workloads, released, kept) -> list[Recommendation]:
    out = []
    th = usage.thresholds
    for team, t in cost.teams.iterrows():
        if not t["underused"]:
            continue
        team_rows = usage.rows[usage.rows["team"] == team]
        kind = workloads.loc[team_rows.index].value_counts().idxmax() if len(team_rows) else "other"
        target = s.serving_target_pct if kind == "serving" else s.training_target_pct
        for model in sorted(team_rows["model"].dropna().unique()):
            gpus = cost.gpus[(cost.gpus["team"] == team) & (cost.gpus["model"] == model)]
            gpus = gpus[~gpus.index.isin(released)]
            if gpus.empty:
                continue
            load = _team_load(usage, team, model)
            peak = float(load["equiv"].max())
            peak_hour = load["equiv"].idxmax()
            keep = max(1, math.ceil(peak / (target / 100)), math.ceil(peak))
            release = len(gpus) - keep
            if release <= 0:
                continue
            kept[(team, model)] = keep
            hours = float(gpus["gpu_hours"].mean())
            price = _price(cost, model)
            out.append(
                Recommendation(
                    kind="consolidate",
                    subject=str(team),
                    action=f"consolidate {team}'s {model} {kind} load from {len(gpus)} to {keep} GPUs",
                    gpus=float(release),
                    savings_per_week=release * hours * price,
                    currency=cost.currency,
                    evidence=(
                        f"mean utilization {t['util_mean_pct']:.0f} % (< {th.underused_pct:g} %); peak load "
                        f"{peak:.2f} GPU-equivalents ({_fmt(peak_hour)} UTC) fits {keep} GPUs at {target:g} %"
                    ),
                    caveat=(
                        "keeps capacity above the observed serving peak; check memory fits (mean "
                        f"{t['mem_used_pct']:.0f} % used) and latency SLOs before moving replicas"
                        if kind == "serving"
                        else "pack jobs onto fewer GPUs or fix the input pipeline; check memory fits"
                    ),
                )
            )
    return out


def _duty(usage: UsageResult, team: str, model: str, exclude: set, cap: int | None) -> np.ndarray:
    """duty[k-1]: share of the week's hours in which at least k of the team's GPUs of ``model`` worked."""
    h = usage.hourly
    mine = h[(h["team"] == team) & (h["model"] == model) & (h["util_mean_pct"] >= usage.thresholds.idle_pct)]
    if exclude:
        mine = mine[[(a, b) not in exclude for a, b in zip(mine["host"], mine["gpu"], strict=True)]]
    week_hours = round((usage.end - usage.start) / pd.Timedelta(hours=1))
    in_use = np.zeros(week_hours)
    if len(mine):
        idx = ((mine["hour"] - usage.start) / pd.Timedelta(hours=1)).astype(int).to_numpy()
        np.add.at(in_use, idx[(idx >= 0) & (idx < week_hours)], 1)
    if cap is not None:
        in_use = np.minimum(in_use, cap)
    top = int(in_use.max()) if in_use.size else 0
    return np.array([(in_use >= k).mean() for k in range(1, top + 1)])


def _reserve_and_spot(usage, cost, s, workloads, released, kept) -> list[Recommendation]:
    """Per team and model: reserve the GPUs in use above break-even; training hours above that -> spot."""
    if cost.pricing != "on_demand":
        return []
    out = []
    week_hours = (usage.end - usage.start) / pd.Timedelta(hours=1)
    rows = usage.rows[~usage.rows["idle"]]
    kinds = workloads.reindex(rows.index)
    for (team, model), part in rows.groupby(["team", "model"]):
        od, res = _price(cost, model, "on_demand"), _price(cost, model, "reserved_1y")
        if math.isnan(od) or od <= 0:
            continue
        duty = _duty(usage, team, model, released, kept.get((team, model)))
        steady = int((duty >= res / od).sum()) if not math.isnan(res) else 0
        if steady:
            used_hours = duty[:steady] * week_hours
            res3 = _price(cost, model, "reserved_3y")
            more = (
                f"; 3-year: {float(np.sum(used_hours * od - week_hours * res3)):,.0f} {cost.currency}/week"
                if not math.isnan(res3)
                else ""
            )
            out.append(
                Recommendation(
                    kind="reserve",
                    subject=str(team),
                    action=f"reserve {steady} {model} GPUs for {team} for 1 year",
                    gpus=float(steady),
                    savings_per_week=float(np.sum(used_hours * od - week_hours * res)),
                    currency=cost.currency,
                    evidence=(
                        f"{steady} GPUs in use at least {duty[steady - 1]:.0%} of the week's hours; break-even "
                        f"{res / od:.0%} (reserved {res:.2f} / on-demand {od:.2f} per GPU-hour){more}"
                    ),
                    caveat="savings against paying on-demand only for the hours in use; one week is a short sample",
                )
            )
        spot = _price(cost, model, "spot")
        is_training = kinds.loc[part.index].eq("training")
        if math.isnan(spot) or not is_training.any():
            continue
        bursty_hours = float(np.sum(duty[steady:]) * week_hours)
        training_share = float(part.loc[is_training, "gpu_hours"].sum() / part["gpu_hours"].sum())
        hours = bursty_hours * training_share
        savings = hours * (od - spot * (1 + s.spot_overhead))
        if savings <= 0 or hours < 1:
            continue
        out.append(
            Recommendation(
                kind="spot",
                subject=str(team),
                action=f"run {team}'s bursty checkpointed training on spot {model} capacity",
                gpus=float(max(0, len(duty) - steady)),
                savings_per_week=savings,
                currency=cost.currency,
                evidence=(
                    f"{hours:,.0f} training GPU-hours above the steady {steady} GPUs; spot {spot:.2f} vs "
                    f"on-demand {od:.2f} per GPU-hour, {s.spot_overhead:.0%} allowed for preempted work"
                ),
                caveat="only for jobs that checkpoint often and resume; large spot GPU capacity may be scarce",
            )
        )
    return out


def _off_peak(usage, cost, s, workloads, kept) -> list[Recommendation]:
    rows = usage.rows[workloads.reindex(usage.rows.index).eq("serving")]
    out = []
    for team, model in rows.groupby(["team", "model"]).groups:
        if (team, model) in kept:  # consolidated: its spare capacity is already counted
            continue
        load = _team_load(usage, team, model)
        if load.empty:
            continue
        peak = float(load["equiv"].max())
        needed = np.maximum(1, np.ceil(load["equiv"] / (s.serving_target_pct / 100)))
        spare = (load["gpus"] - needed).clip(lower=0)
        hod = load.index.hour
        profile = load["equiv"].groupby(hod).mean()
        off_hours = profile.index[profile < s.off_peak_share * profile.max()]
        off = np.isin(hod, off_hours)
        spare_hours = float(spare[off].sum())
        if not off.any() or spare_hours <= 0:
            continue
        window = _hour_window(sorted(int(h) for h in off_hours))
        price = _price(cost, model)
        out.append(
            Recommendation(
                kind="off_peak",
                subject=str(team),
                action=f"schedule batch work on {team}'s {model} GPUs off-peak ({window} UTC)",
                gpus=float(spare[off].mean()),
                savings_per_week=spare_hours * price,
                currency=cost.currency,
                evidence=(
                    f"{spare_hours:,.0f} spare GPU-hours in the hours of day when load is below {s.off_peak_share:.0%} "
                    f"of the daily peak (peak {peak:.2f} GPU-equivalents); savings = batch GPU-hours not bought "
                    "elsewhere"
                ),
                caveat="use a lower scheduling priority so serving keeps its peak capacity",
            )
        )
    return out


def _hour_window(hours: list[int]) -> str:
    """[0, 1, 2, 22, 23] -> '22:00-03:00'; the longest circular run of hours."""
    if not hours:
        return ""
    if len(hours) == 24:
        return "all day"
    present = set(hours)
    best = (0, hours[0])
    for h in hours:
        if (h - 1) % 24 in present:
            continue
        n = 0
        while (h + n) % 24 in present:
            n += 1
        best = max(best, (n, h))
    n, h = best
    return f"{h:02d}:00-{(h + n) % 24:02d}:00"


def recommend(
    usage: UsageResult, cost: CostResult, settings: RecommendationSettings | None = None
) -> RecommendationResult:
    """Recommendations for one week, largest savings first."""
    s = settings or RecommendationSettings()
    workloads = workload_of(usage.rows, s)
    items = _release(usage, cost, s)
    released = {(r.subject, gpu) for r in items for gpu in cost.gpus.loc[r.subject].index} if items else set()
    kept: dict[tuple[str, str], int] = {}
    items += _consolidate(usage, cost, s, workloads, released, kept)
    items += _reserve_and_spot(usage, cost, s, workloads, released, kept)
    items += _off_peak(usage, cost, s, workloads, kept)
    items = [r for r in items if math.isnan(r.savings_per_week) or r.savings_per_week >= s.min_savings]
    items.sort(key=lambda r: -(r.savings_per_week if not math.isnan(r.savings_per_week) else -1))
    return RecommendationResult(tuple(items), s, cost.currency)


WOW_FIGURES = ("gpus", "gpu_hours", "busy_gpu_hours", "util_mean_pct", "cost", "waste_cost", "idle_cost")


def compare_weeks(current: CostResult, previous: CostResult | None) -> pd.DataFrame:
    """Per team (and ``all``): this week's figures, last week's, and the change (absolute)."""

    def table(c: CostResult) -> pd.DataFrame:
        t = c.teams[list(WOW_FIGURES)].copy()
        total = t.sum(numeric_only=True, min_count=1)
        hours = t["gpu_hours"].sum()
        total["util_mean_pct"] = 100 * t["busy_gpu_hours"].sum() / hours if hours else np.nan
        t.loc["all"] = total
        return t

    now = table(current)
    if previous is None:
        return now.add_suffix("_now")
    before = table(previous)
    teams = now.index.union(before.index, sort=False)
    now, before = now.reindex(teams), before.reindex(teams)
    out = pd.concat({"now": now, "before": before, "change": now - before}, axis=1)
    out.columns = [f"{fig}_{when}" for when, fig in out.columns]
    order = [f"{fig}_{when}" for fig in WOW_FIGURES for when in ("now", "before", "change")]
    return out[order]
