"""Join GPU samples to teams and projects with a mapping file.

The mapping is a CSV (or YAML list of mappings) of rules, one per row, e.g.::

    host,gpu,namespace,team,project
    ,,llm-train,llm,pretrain-13b
    resv-h100-03,,,nlp,finetune
    infer-*,,,search,query-embed

Match columns: ``host``, ``gpu``, ``uuid``, ``namespace``, ``pod``, ``job`` (any subset). An empty
cell matches anything; a value with ``*``, ``?`` or ``[...]`` is a shell-style pattern; anything else
must be equal (GPU indexes compare as text). ``team`` is required, ``project`` optional. The first
rule that matches a sample wins (order rules from specific to general). Samples no rule matches
get team and project :data:`UNATTRIBUTED`: they are kept and reported, never dropped.
"""

from __future__ import annotations

import fnmatch
import io
import os
from pathlib import Path

import pandas as pd

from opskit.errors import InputError
from opskit.sources.encodings import read_text
from opskit.sources.table_files import malformed_csv

UNATTRIBUTED = "unattributed"
MATCH_COLUMNS: tuple[str, ...] = ("host", "gpu", "uuid", "namespace", "pod", "job")
VALUE_COLUMNS: tuple[str, ...] = ("team", "project")
_PATTERN_CHARS = set("*?[")


def read_attribution(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a mapping file (``.csv``, or ``.yaml``/``.yml`` holding a list of rules) as a rules table.

    Returns one row per rule with the match columns it uses plus ``team`` and ``project``, all as
    strings ("" for an empty cell), in file order. Raises :class:`InputError` for a missing file,
    unknown columns (naming the expected and the found ones), a missing ``team`` column, or no rules.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("mapping file not found", path=p, hint="a CSV with host,gpu,namespace,team,project columns")
    if p.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(read_text(p).text) or []
        except yaml.YAMLError as exc:
            raise InputError(f"not valid YAML: {exc}", path=p) from None
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise InputError("the YAML must be a list of rules (mappings)", path=p, hint="- {namespace: x, team: y}")
        rules = pd.DataFrame(data)
    else:
        try:
            # UTF-16 (Excel's "Unicode text"), UTF-8 with a BOM or GBK: decoded by the one encoding helper
            text = read_text(p).text
            rules = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
        except pd.errors.EmptyDataError:
            hint = "one header line, then one rule per line"
            raise InputError("the mapping file is empty", path=p, hint=hint) from None
        except pd.errors.ParserError as exc:
            hint = "every line needs as many fields as the header (host,gpu,namespace,team,project)"
            raise malformed_csv(exc, p, hint) from None
    rules.columns = [str(c).strip() for c in rules.columns]
    known = (*MATCH_COLUMNS, *VALUE_COLUMNS)
    unknown = [c for c in rules.columns if c not in known]
    if unknown or "team" not in rules.columns:
        bad = unknown[0] if unknown else "team"
        raise InputError(
            f"mapping columns must be among {list(known)} (team required); found {list(rules.columns)}",
            path=p,
            column=bad,
            hint="e.g. host,gpu,namespace,team,project",
        )
    if rules.empty:
        raise InputError("the mapping file has no rules", path=p, hint="add one rule per line")
    rules = rules.fillna("").astype(str).apply(lambda col: col.str.strip())
    if "project" not in rules.columns:
        rules["project"] = ""
    empty_team = rules["team"] == ""
    if empty_team.any():
        line = int(empty_team.to_numpy().argmax()) + 2  # header is line 1 in a CSV
        raise InputError("a rule has no team", path=p, line=line, column="team", hint="every rule names a team")
    return rules.reset_index(drop=True)


def _matches(rule_value: str, value: object) -> bool:
    if rule_value == "":
        return True
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return False
    text = str(value)
    if _PATTERN_CHARS & set(rule_value):
        return fnmatch.fnmatchcase(text, rule_value)
    return text == rule_value


def attribute(samples: pd.DataFrame, rules: pd.DataFrame | str | os.PathLike[str], *, keep_existing: bool = True):
    """Return ``samples`` with ``team`` and ``project`` from the first matching rule.

    ``rules`` is a table from :func:`read_attribution` or a path to a mapping file. With
    ``keep_existing``, a team already in the samples (e.g. from a label) is kept and only missing
    ones are looked up. Unmatched samples get :data:`UNATTRIBUTED`. Rules are evaluated once per
    distinct combination of the match columns, not per sample.
    """
    if not isinstance(rules, pd.DataFrame):
        rules = read_attribution(rules)
    out = samples.copy()
    used = [c for c in MATCH_COLUMNS if c in rules.columns]
    present = [c for c in used if c in out.columns]
    combos = out[present].drop_duplicates() if present else pd.DataFrame(index=[0])
    teams, projects = [], []
    rule_rows = rules[used + list(VALUE_COLUMNS)].to_dict("records")
    for combo in combos.to_dict("records"):
        for rule in rule_rows:
            if all(_matches(rule[c], combo.get(c)) for c in used):
                teams.append(rule["team"])
                projects.append(rule["project"] or UNATTRIBUTED)
                break
        else:
            teams.append(UNATTRIBUTED)
            projects.append(UNATTRIBUTED)
    looked_up = combos.assign(_team=teams, _project=projects)
    if present:
        keys = out[present].astype(object).where(out[present].notna(), None)
        table = looked_up.astype(object).where(looked_up.notna(), None)
        merged = keys.merge(table, on=present, how="left")
        new_team, new_project = merged["_team"].to_numpy(), merged["_project"].to_numpy()
    else:
        new_team = [teams[0]] * len(out)
        new_project = [projects[0]] * len(out)
    if keep_existing and "team" in out.columns:
        has = out["team"].notna() & (out["team"].astype(str) != "")
        out["team"] = out["team"].astype(object).where(has, pd.Series(new_team, index=out.index, dtype=object))
        old_project = out["project"].astype(object) if "project" in out.columns else pd.Series(None, index=out.index)
        out["project"] = old_project.where(has & old_project.notna(), pd.Series(new_project, index=out.index))
        out["project"] = out["project"].fillna(UNATTRIBUTED)
    else:
        out["team"] = pd.Series(new_team, index=out.index, dtype=object)
        out["project"] = pd.Series(new_project, index=out.index, dtype=object)
    return out
