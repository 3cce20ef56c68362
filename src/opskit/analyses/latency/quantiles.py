"""Exact latency quantiles per group, by DuckDB when it is importable or by pandas (same numbers).

Quantiles use linear interpolation, as ``numpy.quantile``. DuckDB is fast on tens of millions of
rows; pandas needs nothing beyond the base install.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from opskit.errors import InputError, MissingDependencyError

QUANTILES = (0.5, 0.95, 0.99)


def epoch_ns(series: pd.Series) -> np.ndarray:
    """Nanoseconds since the epoch (UTC) of a datetime column of any resolution; naive is UTC."""
    return pd.DatetimeIndex(series).as_unit("ns").asi8


def have_duckdb() -> bool:
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return False
    return True


def latency_quantiles(
    frame: pd.DataFrame,
    by: list[str],
    quantiles=QUANTILES,
    *,
    engine: str = "auto",
    value: str = "latency_ms",
    where: np.ndarray | None = None,
    slo_ms: float | None = None,
    medians: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Count, mean and exact quantiles of ``value`` per group of ``by`` (sorted by the keys).

    Columns: the keys, ``requests``, ``mean_ms`` and ``p50_ms``... for each quantile; with
    ``slo_ms`` also ``slow`` (requests over it) and, when ``frame`` has ``status``, ``errors``
    (status >= 500); ``medians`` adds ``median_<column>`` for other columns. ``where`` keeps only
    the rows where it is True.
    ``engine``: ``auto`` (DuckDB when importable), ``duckdb`` or ``pandas``.
    """
    engine = resolve_engine(engine)
    names = [quantile_column(q) for q in quantiles]
    with_errors = slo_ms is not None and "status" in frame
    if engine == "duckdb" and by:
        import duckdb

        keys = ", ".join(f'"{k}"' for k in by)
        columns = [*by, value, *medians] + (["status"] if with_errors else [])
        data = frame[columns]
        if where is not None:
            data = data.assign(_keep=where)
        con = duckdb.connect()
        con.execute("SET threads TO 2")
        con.register("t", data)
        qlist = ", ".join(str(q) for q in quantiles)
        extra = ""
        if slo_ms is not None:
            extra += f", count_if({value} > {float(slo_ms)!r}) AS slow"
        if with_errors:
            extra += ", count_if(status >= 500) AS errors"
        for name in medians:
            extra += f", median({name}) AS median_{name}"
        sql = (
            f"SELECT {keys + ', ' if by else ''}count(*) AS requests, avg({value}) AS mean_ms{extra}, "
            f"quantile_cont({value}, [{qlist}]) AS q FROM t {'WHERE _keep' if where is not None else ''} "
            f"{f'GROUP BY {keys} ORDER BY {keys}' if by else ''}"
        )
        out = con.execute(sql).df()
        con.close()
        values = np.array(out.pop("q").tolist(), dtype="float64").reshape(len(out), len(quantiles))
        for i, name in enumerate(names):
            out[name] = values[:, i]
        for key in by:  # DuckDB returns ENUMs as object text: restore the input's dtype
            out[key] = out[key].astype(frame[key].dtype)
        for name in ("requests", "slow", "errors"):
            if name in out:
                out[name] = out[name].astype("int64")
        return out.reset_index(drop=True)
    data = frame if where is None else frame[where]
    derived = {}
    if slo_ms is not None:
        derived["slow"] = data[value].to_numpy() > slo_ms
    if with_errors:
        derived["errors"] = data["status"].to_numpy() >= 500
    if not by:
        values = data[value].to_numpy()
        row = {"requests": len(values), "mean_ms": float(values.mean())}
        row.update({k: int(v.sum()) for k, v in derived.items()})
        row.update({f"median_{m}": float(data[m].median()) for m in medians})
        row.update({n: float(v) for n, v in zip(names, np.quantile(values, quantiles), strict=True)})
        return pd.DataFrame([row])
    grouped = data.groupby(by, observed=True, sort=True)[value]
    out = grouped.agg(requests="count", mean_ms="mean")
    if derived:
        flags = pd.DataFrame({**{k: data[k].array for k in by}, **derived})
        out = out.join(flags.groupby(by, observed=True, sort=True)[list(derived)].sum().astype("int64"))
    for name in medians:
        out[f"median_{name}"] = data.groupby(by, observed=True, sort=True)[name].median()
    qs = grouped.quantile(list(quantiles)).unstack()
    qs.columns = names
    out = out.join(qs).reset_index()
    out["requests"] = out["requests"].astype("int64")
    return out


def quantile_column(q: float) -> str:
    return f"p{q * 100:g}_ms"


def resolve_engine(engine: str) -> str:
    if engine == "auto":
        return "duckdb" if have_duckdb() else "pandas"
    if engine == "duckdb" and not have_duckdb():
        raise MissingDependencyError("duckdb", extra="fast", feature="fast latency quantiles")
    if engine not in ("duckdb", "pandas"):
        raise InputError(f"unknown engine {engine!r}", hint="use auto, duckdb or pandas")
    return engine
