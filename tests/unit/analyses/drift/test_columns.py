"""Column type inference, with overrides."""

from __future__ import annotations

import pandas as pd
import pytest

from opskit.analyses.drift.columns import ColumnType, infer_column_type, infer_column_types
from opskit.errors import InputError


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ([1.0, 2.5, None], ColumnType.NUMERIC),
        ([1, 2, 3], ColumnType.NUMERIC),
        (["1.5", "2", "3"], ColumnType.NUMERIC),
        (["web", "branch", None], ColumnType.CATEGORICAL),
        ([True, False, True], ColumnType.BOOLEAN),
        (pd.to_datetime(["2026-01-01", "2026-01-02"]), ColumnType.DATETIME),
        (["2026-01-01T10:00:00Z", "2026-01-02T11:00:00Z"], ColumnType.DATETIME),
    ],
)
def test_infer_column_type(values, kind):
    assert infer_column_type(pd.Series(values)) == kind


def test_override_and_unknown_type():
    frame = pd.DataFrame({"zip": [10115, 20095, 10115], "x": [1.0, 2.0, 3.0]})
    types = infer_column_types(frame, {"zip": "categorical"})
    assert types == {"zip": ColumnType.CATEGORICAL, "x": ColumnType.NUMERIC}
    with pytest.raises(InputError) as info:
        infer_column_types(frame, {"zip": "postcode"})
    assert info.value.column == "zip"
    assert "categorical" in info.value.hint
