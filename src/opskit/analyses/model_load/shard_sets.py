"""Shard sets judged as a whole: ``model-00001-of-00004.safetensors`` ... with ``model.safetensors.index.json``.

Shards missing from the numbered set, extra shards, shards the index names that are absent, shards
present that the index never names, and tensors the index places in a shard that does not hold them.
The equivalent by hand: ``ls model-*-of-*.safetensors`` against the index's ``weight_map``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from opskit.checks import Status, Verdict
from opskit.errors import InputError

_SHARD = re.compile(r"^(?P<stem>.+)-(?P<index>\d{5})-of-(?P<total>\d{5})(?P<ext>\.[A-Za-z0-9]+)$")


@dataclass(frozen=True)
class ShardSetResult:
    """One shard set: ``name`` (e.g. ``model-*-of-00004.safetensors``), its index file when there is
    one, and the shard file names that are ``missing``, ``extra`` (numbered outside the set, or of
    another total), ``absent_in_index`` (named by the index, not on disk) and ``not_in_index``."""

    name: str
    total: int
    index_file: str | None
    present: tuple[str, ...]
    missing: tuple[str, ...]
    extra: tuple[str, ...]
    absent_in_index: tuple[str, ...]
    not_in_index: tuple[str, ...]
    tensors_in_missing: int = 0
    not_in_shard: tuple[str, ...] = ()  # tensors the index places in a present shard whose header lacks them

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.absent_in_index or self.not_in_index or self.not_in_shard)


def check_shard_sets(folder: str | Path) -> list[ShardSetResult]:
    """Find the shard sets in ``folder`` (by file name and by ``*.index.json``) and check each."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    shards: dict[tuple[str, str], list[tuple[int, int, str]]] = {}
    for p in folder.iterdir():
        m = _SHARD.match(p.name)
        if m and p.is_file():
            shards.setdefault((m["stem"], m["ext"]), []).append((int(m["index"]), int(m["total"]), p.name))
    indexes: dict[tuple[str, str], tuple[str, dict]] = {}
    for p in sorted(folder.glob("*.index.json")):
        try:
            weight_map = json.loads(p.read_text(encoding="utf-8")).get("weight_map", {})
        except (json.JSONDecodeError, AttributeError) as exc:
            raise InputError(f"shard index is not a JSON object with a weight_map: {exc}", path=p) from exc
        for file in set(weight_map.values()):
            m = _SHARD.match(str(file))
            if m:
                indexes[(m["stem"], m["ext"])] = (p.name, weight_map)
                break
    results = []
    for key in sorted(set(shards) | set(indexes)):
        stem, ext = key
        found = sorted(shards.get(key, []))
        index_name, weight_map = indexes.get(key, (None, {}))
        named = set(map(str, weight_map.values()))
        totals = [t for _, t, _ in found] + [int(_SHARD.match(n)["total"]) for n in named if _SHARD.match(n)]
        total = max(set(totals), key=totals.count) if totals else 0
        expected = {f"{stem}-{i:05d}-of-{total:05d}{ext}" for i in range(1, total + 1)}
        present = {n for _, _, n in found}
        absent = sorted(n for n in named if n not in present)
        not_in_shard = _tensors_not_in_shard(folder, weight_map, present) if ext == ".safetensors" else []
        results.append(
            ShardSetResult(
                name=f"{stem}-*-of-{total:05d}{ext}",
                total=total,
                index_file=index_name,
                present=tuple(sorted(present)),
                missing=tuple(sorted(expected - present)),
                extra=tuple(sorted(present - expected)),
                absent_in_index=tuple(absent),
                not_in_index=tuple(sorted(present - named)) if index_name else (),
                tensors_in_missing=sum(1 for f in weight_map.values() if f in set(absent)),
                not_in_shard=tuple(not_in_shard),
            )
        )
    return results


def _tensors_not_in_shard(folder: Path, weight_map: Mapping[str, str], present: set[str]) -> list[str]:
    """Tensors the index assigns to a present safetensors shard whose header does not list them."""
    from opskit.sources.model_headers import inspect_safetensors

    held: dict[str, set[str]] = {}
    for name in present:
        info = inspect_safetensors(folder / name)
        held[name] = set(info.tensors["name"]) if info.tensors is not None else set()
    return sorted(t for t, f in weight_map.items() if f in held and held[f] and t not in held[f])


def shard_verdicts(results: Iterable[ShardSetResult]) -> list[Verdict]:
    """One ``shard set`` verdict per set: FAIL when a shard is missing, extra or unindexed."""
    out = []
    for r in results:
        problems = []
        if r.missing:
            problems.append(f"missing {len(r.missing)} of {r.total}: {', '.join(r.missing)}")
        if r.absent_in_index:
            problems.append(
                f"{r.index_file} names absent files: {', '.join(r.absent_in_index)}"
                + (f" ({r.tensors_in_missing} tensors)" if r.tensors_in_missing else "")
            )
        if r.extra:
            problems.append(f"extra shards outside the set of {r.total}: {', '.join(r.extra)}")
        if r.not_in_index:
            problems.append(f"present but not named by {r.index_file}: {', '.join(r.not_in_index)}")
        if r.not_in_shard:
            more = f" (+{len(r.not_in_shard) - 3})" if len(r.not_in_shard) > 3 else ""
            problems.append(
                f"{r.index_file} places {len(r.not_in_shard)} tensors in shards that do not hold them: "
                f"{', '.join(r.not_in_shard[:3])}{more}"
            )
        evidence = f"present: {', '.join(r.present) or 'none'}; index: {r.index_file or 'none'}"
        if problems:
            fix = (
                "fetch the missing shards (e.g. huggingface-cli download REPO --include 'model-*'); "
                if r.missing or r.absent_in_index
                else ""
            )
            if r.extra or r.not_in_index or r.not_in_shard:
                fix += "remove stray shards from another revision, or fetch the index and shards of one revision"
            out.append(
                Verdict(
                    "shard set",
                    Status.FAIL,
                    subject=r.name,
                    observed=len(r.present),
                    threshold=r.total,
                    unit="shards",
                    evidence=evidence,
                    message="; ".join(problems),
                    next_step=fix.rstrip("; "),
                )
            )
        elif r.index_file is None:
            out.append(
                Verdict(
                    "shard set",
                    Status.WARN,
                    subject=r.name,
                    observed=len(r.present),
                    threshold=r.total,
                    unit="shards",
                    evidence=evidence,
                    message="all shards present but no *.index.json",
                    next_step="fetch the index file too: loaders need it to find tensors",
                )
            )
        else:
            out.append(
                Verdict(
                    "shard set",
                    Status.PASS,
                    subject=r.name,
                    observed=len(r.present),
                    threshold=r.total,
                    unit="shards",
                    evidence=evidence,
                )
            )
    return out
