"""The settings of the data checks: one frozen object, built once by the runbook from its parameters."""

from __future__ import annotations

from dataclasses import dataclass

from opskit.errors import ParameterError

GB = 1_000_000_000


@dataclass(frozen=True)
class DataCheckSettings:
    """Thresholds of the data checks, each stated where it is used.

    * outliers: robust z-score ``|x - median| / (1.4826 * MAD) > outlier_z`` (Iglewicz and Hoaglin's
      3.5), median and MAD from the reference when one is given; a column is flagged when its share
      of outliers is over ``outlier_share`` and over 3x the reference's share.
    * missing values: WARN when a column's missing share is ``missing_warn`` (absolute) over the
      reference's, FAIL at ``missing_fail`` over; without a reference WARN over ``missing_alone``.
    * label distribution: WARN when the total variation distance to the reference is over ``label_tvd``.
    """

    size_limit_bytes: int = 10 * GB
    key_columns: tuple[str, ...] = ()
    label_column: str | None = None
    outlier_z: float = 3.5
    outlier_share: float = 0.005
    missing_warn: float = 0.05
    missing_fail: float = 0.20
    missing_alone: float = 0.5
    label_tvd: float = 0.1
    pii_scan_values: int = 50_000
    examples: int = 5

    def __post_init__(self) -> None:
        if self.size_limit_bytes <= 0:
            raise ParameterError("size_limit_gb must be above 0", name="size_limit_gb")
        if self.outlier_z <= 0:
            raise ParameterError("outlier_z must be above 0", name="outlier_z")
        if not 0 <= self.missing_warn <= self.missing_fail <= 1:
            raise ParameterError("missing shares must satisfy 0 <= warn <= fail <= 1", name="missing_warn")
