"""GPU price tables: the bundled, dated table and a user's CSV with the same columns, read and checked.

Columns: ``model``, ``match`` (a regular expression on the lower-cased product name; optional, the
model name is then matched as a substring), ``currency``, one price per GPU-hour per pricing
(``on_demand``, ``reserved_1y``, ``reserved_3y``, ``spot``; empty where there is none), ``as_of`` and
``source``. A bad cell is an :class:`~opskit.errors.InputError` naming the file, line and column.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from opskit.bundled import GPU_PRICES, bundled_path
from opskit.errors import InputError

PRICING = ("on_demand", "reserved_1y", "reserved_3y", "spot")
PRICE_COLUMNS = ("model", "match", "currency", *PRICING, "as_of", "source")


def bundled_prices_path() -> Path:
    return bundled_path(GPU_PRICES)


def _read_price_csv(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        hint = "give a CSV with columns " + ",".join(PRICE_COLUMNS)
        raise InputError("no such price table", path=path, hint=hint) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable CSV price table ({exc})", path=path) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if "model" not in frame.columns or not any(p in frame.columns for p in PRICING):
        raise InputError(
            f"a price table needs a 'model' column and at least one of {list(PRICING)}; found {list(frame.columns)}",
            path=path,
            column="model" if "model" not in frame.columns else PRICING[0],
            hint="columns: " + ",".join(PRICE_COLUMNS) + " (match, as_of and source are optional)",
        )
    for c in PRICE_COLUMNS:
        if c not in frame.columns:
            frame[c] = ""
    for c in PRICING:
        raw = frame[c].str.strip()
        values = pd.to_numeric(raw.replace("", np.nan), errors="coerce")
        bad = values.isna() & raw.ne("") | (values < 0)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"price {raw.iloc[i]!r} is not a non-negative number",
                path=path,
                line=i + 2,
                column=c,
                hint="prices are per GPU-hour; leave the cell empty when there is no such pricing",
            )
        frame[c] = values.astype(float)
    frame["currency"] = frame["currency"].str.strip().str.upper().replace("", "USD")
    frame["match"] = [
        m.strip() or re.escape(str(model).strip().lower())
        for m, model in zip(frame["match"], frame["model"], strict=True)
    ]
    for i, pattern in enumerate(frame["match"]):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise InputError(f"bad match pattern {pattern!r}: {exc}", path=path, line=i + 2, column="match") from None
    frame["table"] = str(path)
    return frame[[*PRICE_COLUMNS, "table"]]


def load_prices(path: str | Path | None = None, *, bundled: bool = True) -> pd.DataFrame:
    """The price table: rows of ``path`` first (they win), then bundled rows of other models."""
    tables = []
    if path:
        tables.append(_read_price_csv(Path(path).expanduser()))
    if bundled or not tables:
        base = _read_price_csv(bundled_prices_path())
        if tables:
            overridden = {m.strip().lower() for m in tables[0]["model"]}
            base = base[~base["model"].str.lower().isin(overridden)]
        base["table"] = "bundled"
        tables.append(base)
    return pd.concat(tables, ignore_index=True)
