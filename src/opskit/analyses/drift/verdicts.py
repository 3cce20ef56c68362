"""The verdict row of one feature: what was observed, the evidence, and the companions reconciled.

The verdict follows one method (PSI by default); the companions are secondary and shown as such.
When a companion disagrees with the verdict, the row says which one and why the verdict stands:
a significance test (KS, chi-squared) flags shifts too small to act on when the data is large,
and a distance past its level that its permutation test calls noise is not drift.
"""

from __future__ import annotations

import pandas as pd

from opskit.analyses.drift.judge import FeatureDrift
from opskit.analyses.drift.methods import METHODS, PSI_WATCH
from opskit.checks import Status, Verdict

CHECK_FEATURE = "feature drift"
CHECK_PREDICTION = "prediction drift"
_SIGNIFICANCE_TESTS = ("ks", "chi2")


def _next_step(f: FeatureDrift, check: str) -> str:
    if f.status == Status.FAIL:
        what = "the model's scores" if check == CHECK_PREDICTION else f"'{f.name}'"
        return (
            f"compare the histograms of {what} below; check the upstream data for a pipeline or "
            "population change, then retrain or recalibrate if the shift is real"
        )
    if f.status == Status.WARN:
        return "watch the PSI trend per window; it is moving toward the 0.2 drift level"
    if f.status == Status.ERROR:
        return "fix the column in the named data set (or set its type with column_types) and rerun"
    return ""


def _companion_text(name: str, c) -> str:
    value = f"{name} {'p ' if METHODS[name].statistic == 'p-value' else ''}{c.value:.3g}"
    if c.effect is not None:
        value += f", D {c.effect:.3f}"
    return value + (" flags drift" if c.drifted else "") + (f" ({c.note})" if c.note else "")


def reconcile(f: FeatureDrift) -> str:
    """The companions as secondary evidence, and, where they disagree with the verdict, why it stands."""
    if not f.companions:
        return ""
    text = f"secondary ({f.method} decides): " + ", ".join(_companion_text(n, c) for n, c in f.companions.items())
    flagged = [n for n, c in f.companions.items() if c.drifted]
    calm = [n for n, c in f.companions.items() if not c.drifted]
    if f.status in (Status.PASS, Status.WARN) and flagged:
        one = len(flagged) == 1
        why = f"{_names(flagged)} {'disagrees: it sees' if one else 'disagree: they see'} a difference that " + (
            f"{f.method} puts below its level"
        )
        tests = [n for n in flagged if n in _SIGNIFICANCE_TESTS]
        if tests:
            why += (
                f"; {_names(tests)} {'tests' if len(tests) == 1 else 'test'} significance, not size: with "
                f"{f.n_current:,} current rows a significance test flags shifts too small to act on"
            )
        text += f". {why}; the {f.status.value} stands"
    elif f.status == Status.FAIL and calm:
        text += f". {_names(calm)} {'does' if len(calm) == 1 else 'do'} not flag it (each measures another aspect); "
        text += f"the FAIL follows {f.method}"
    return text


def _names(names: list[str]) -> str:
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]


def _evidence(f: FeatureDrift, table: pd.DataFrame | None) -> str:
    parts = []
    if table is not None and len(table):
        top = table.loc[table["contribution"].idxmax()]
        parts.append(
            f"largest bin {top['bin']}: reference {top['ref_share']:.1%} -> current {top['cur_share']:.1%} "
            f"(contribution {top['contribution']:.3f})"
        )
    if f.unseen:
        cats = sorted(f.unseen.items(), key=lambda kv: -kv[1])[:3]
        more = f" and {len(f.unseen) - 3:,} more" if len(f.unseen) > 3 else ""
        parts.append("unseen categories: " + ", ".join(f"{k!r} x{v}" for k, v in cats) + more)
    companions = reconcile(f)
    if companions:
        parts.append(companions)
    return "; ".join(parts)


def feature_verdict(f: FeatureDrift, check: str, table: pd.DataFrame | None, watch: float = PSI_WATCH) -> Verdict:
    """The verdict row of one feature (or of the prediction, ``check`` = prediction drift)."""
    if f.status in (Status.SKIP, Status.ERROR):
        return Verdict(check, f.status, subject=f.name, message=f.reason, next_step=_next_step(f, check) or None)
    threshold = f.threshold
    if f.method == "psi" and f.status != Status.FAIL:
        threshold = watch  # the level a WARN reached, or a PASS stays under
    unit = "PSI" if f.method == "psi" else METHODS[f.method].statistic
    message = f"{f.method}: {f.level}" if f.method == "psi" else f"{f.method} (PSI {f.psi:.3f}, {f.level})"
    if f.psi_expected is not None:
        message += f"; PSI expected with no drift at these sizes: about {f.psi_expected:.2g}"
    if f.psi_p_value is not None:
        message += f"; PSI permutation p {f.psi_p_value:.3f}"
    if f.note:
        message += f"; {f.note}"
    return Verdict(
        check,
        f.status,
        subject=f.name,
        observed=round(float(f.value), 4) if f.value is not None else None,
        threshold=threshold,
        unit=unit,
        evidence=_evidence(f, table),
        next_step=_next_step(f, check) or None,
        message=message,
    )
