"""What the week's GPU-hours cost: allocation cost beside utilization-weighted cost, per GPU, node, team, job.

Prices come from a dated table per GPU-hour (``opskit/data/gpu_prices.csv``: ``model``, ``match``
(a regular expression on the lower-cased product name), ``currency``, one column per pricing
(``on_demand``, ``reserved_1y``, ``reserved_3y``, ``spot``), ``as_of`` and ``source``). A user table
with the same columns (``match`` optional: the model name is then matched as a substring) overrides
the bundled rows of the same model. A GPU model without a price in the asked currency has an unknown
cost (NaN), reported as such, never zero; no currency is converted.

Costs (currency per week):

- ``cost``: allocation cost, GPU-hours present x price (what a cloud bill charges);
- ``used_cost``: utilization-weighted, busy GPU-hours x price; ``unused_cost`` = cost - used_cost;
- ``idle_cost``, ``underused_cost``, ``stalled_cost``: cost of the hours so flagged by the usage analysis;
- ``waste_cost``: unused cost plus the used cost of stalled hours (a spinning kernel is not work);
- ``gap_cost``: hours without data between samples, priced (billed, but not observed), not in ``cost``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from opskit.analyses.gpu_fleet.usage import UsageResult
from opskit.errors import InputError
from opskit.sources.gpu_prices import PRICING

COST_COLUMNS = ("cost", "used_cost", "unused_cost", "idle_cost", "underused_cost", "stalled_cost", "waste_cost")


def format_money(amount: float | None, currency: str) -> str:
    """``12,345 USD``; ``unknown`` for a cost that is not known (no price), never ``0``."""
    if amount is None or (isinstance(amount, float) and math.isnan(amount)):
        return "unknown"
    return f"{amount:,.0f} {currency}"


def match_prices(models, prices: pd.DataFrame, *, pricing: str = "on_demand", currency: str = "USD") -> pd.DataFrame:
    """Per GPU model name: the first price row that matches it in ``currency`` with a ``pricing`` price.

    Columns ``price_model``, ``price_per_gpu_hour`` (NaN when unknown), every pricing column, ``as_of``,
    ``source``, ``table``.
    """
    if pricing not in PRICING:
        raise InputError(f"unknown pricing {pricing!r}", column="pricing", hint="one of " + ", ".join(PRICING))
    currency = currency.strip().upper()
    rows = prices[(prices["currency"] == currency) & prices[pricing].notna()]
    out = []
    for model in sorted({str(m) for m in models if m is not None and m == m}):
        name = model.lower()
        hit = next((r for r in rows.itertuples() if re.search(r.match, name)), None)
        record = {"model": model, "price_model": None, "price_per_gpu_hour": np.nan}
        if hit is not None:
            record.update(
                price_model=hit.model,
                price_per_gpu_hour=getattr(hit, pricing),
                **{p: getattr(hit, p) for p in PRICING},
                as_of=hit.as_of,
                source=hit.source,
                table=hit.table,
            )
        out.append(record)
    frame = pd.DataFrame(
        out, columns=["model", "price_model", "price_per_gpu_hour", *PRICING, "as_of", "source", "table"]
    )
    return frame.set_index("model")


@dataclass(frozen=True)
class CostResult:
    """Costs of one week, in ``currency`` with ``pricing``; unknown prices are NaN and listed in ``unpriced``."""

    week: str
    pricing: str
    currency: str
    prices: pd.DataFrame  # per GPU model seen: the price used and where it came from
    rows: pd.DataFrame  # usage rows with price and costs
    gpus: pd.DataFrame
    nodes: pd.DataFrame
    teams: pd.DataFrame
    jobs: pd.DataFrame
    unpriced: pd.DataFrame  # GPU models without a price: gpus, hosts, gpu_hours

    @property
    def totals(self) -> dict[str, float]:
        t = {c: float(self.gpus[c].sum(min_count=1)) for c in (*COST_COLUMNS, "gap_cost")}
        t["unpriced_gpu_hours"] = float(self.gpus["unpriced_gpu_hours"].sum())
        t["unpriced_gpus"] = int((self.gpus["unpriced_gpu_hours"] > 0).sum())
        return t


def _group_costs(rows: pd.DataFrame, by: list[str], usage_frame: pd.DataFrame) -> pd.DataFrame:
    g = rows.groupby(by, dropna=False, sort=True)
    costs = pd.DataFrame({c: g[c].sum(min_count=1) for c in COST_COLUMNS})
    costs["unpriced_gpu_hours"] = g["unpriced_gpu_hours"].sum()
    out = usage_frame.join(costs, how="left")
    out["cost_per_busy_gpu_hour"] = out["cost"] / out["busy_gpu_hours"].replace(0, np.nan)
    return out


UNKNOWN_MODEL = "(model not in the data)"


def compute_costs(
    usage: UsageResult, prices: pd.DataFrame, *, pricing: str = "on_demand", currency: str = "USD"
) -> CostResult:
    """Price the week's usage. ``prices`` from :func:`load_prices`."""
    matched = match_prices(usage.rows["model"].unique(), prices, pricing=pricing, currency=currency)
    rows = usage.rows.copy()
    rows["price_per_gpu_hour"] = rows["model"].map(matched["price_per_gpu_hour"]).astype(float)
    price = rows["price_per_gpu_hour"]
    rows["cost"] = rows["gpu_hours"] * price
    rows["used_cost"] = rows["busy_gpu_hours"] * price
    rows["unused_cost"] = rows["cost"] - rows["used_cost"]
    for flag in ("idle", "underused", "stalled"):
        rows[f"{flag}_cost"] = rows[f"{flag}_gpu_hours"] * price
    # waste: what was not used, plus what a stalled GPU "used" spinning
    rows["waste_cost"] = rows["unused_cost"] + np.where(rows["stalled"], rows["used_cost"], 0.0)
    rows["unpriced_gpu_hours"] = np.where(price.isna(), rows["gpu_hours"], 0.0)

    gpus = _group_costs(rows, ["host", "gpu"], usage.gpus)
    gpus["price_per_gpu_hour"] = gpus["model"].map(matched["price_per_gpu_hour"]).astype(float)
    gpus["gap_cost"] = gpus["gap_gpu_hours"] * gpus["price_per_gpu_hour"]
    nodes = _group_costs(rows, ["host"], usage.nodes)
    nodes["gap_cost"] = gpus.groupby(level="host")["gap_cost"].sum(min_count=1)
    teams = _group_costs(rows, ["team"], usage.teams)
    teams["gap_cost"] = gpus.groupby("team")["gap_cost"].sum(min_count=1).reindex(teams.index)
    jobs = _group_costs(rows[rows["job"].isin(usage.jobs.index)], ["job"], usage.jobs)
    unknown = gpus[gpus["price_per_gpu_hour"].isna()].reset_index()
    # a GPU whose model is not known (no name/modelName in the input) is unpriced too, never dropped
    unknown["model"] = unknown["model"].astype(object).where(unknown["model"].notna(), UNKNOWN_MODEL)
    unpriced = (
        unknown.groupby("model")
        .agg(gpus=("gpu", "size"), hosts=("host", lambda s: ", ".join(sorted(set(s)))), gpu_hours=("gpu_hours", "sum"))
        .reset_index()
        if len(unknown)
        else pd.DataFrame(columns=["model", "gpus", "hosts", "gpu_hours"])
    )
    return CostResult(
        week=usage.week,
        pricing=pricing,
        currency=currency.strip().upper(),
        prices=matched,
        rows=rows,
        gpus=gpus,
        nodes=nodes,
        teams=teams,
        jobs=jobs,
        unpriced=unpriced,
    )
