"""``opskit model list|verify|promote|rollback|history|at``: MLflow model versions, aliases and their history."""

from __future__ import annotations

import argparse
import os


def register(subparsers) -> None:
    p = subparsers.add_parser("model", help="registered model versions: verify, promote, roll back, alias history")
    p.add_argument(
        "--mlflow",
        dest="uri",
        default=None,
        help="tracking/registry URI (default: $OPSKIT_MLFLOW_URI, else $MLFLOW_TRACKING_URI)",
    )
    p.add_argument(
        "--history",
        default=None,
        help="alias history file (default: $OPSKIT_MODEL_HISTORY or reports/model_history.jsonl)",
    )
    sub = p.add_subparsers(dest="model_command", required=True)
    ls = sub.add_parser("list", help="versions of a model (or all models) with aliases, tags and source")
    ls.add_argument("name", nargs="?")
    ls.add_argument("--pattern", help="regular expression for version labels (default: name_vMAJOR.MINOR_YYYYMMDD)")
    ls.add_argument("--label-tag", default="version_label", help="version tag holding the label")
    v = sub.add_parser("verify", help="check a version's artifacts: recorded SHA-256, format, pickle safety")
    v.add_argument("name")
    v.add_argument("version")
    v.add_argument("--record", action="store_true", help="record checksums as the opskit.sha256 tag if none are")
    pr = sub.add_parser("promote", help="point an alias at a version; the move is kept in the history")
    pr.add_argument("name")
    pr.add_argument("version")
    rb = sub.add_parser("rollback", help="move an alias back after verifying the target version")
    rb.add_argument("name")
    rb.add_argument("--to", help="target version (default: the version the alias held before)")
    rb.add_argument("--force", action="store_true", help="roll back to a version without recorded checksums")
    for q in (pr, rb):
        q.add_argument("--alias", default="champion")
        q.add_argument("--reason", required=True, help="why: kept in the history")
        q.add_argument("--who", help="who moves it (default: $OPSKIT_USER or the login name)")
    h = sub.add_parser("history", help="every alias move of a model: from, to, who, when (UTC), why")
    h.add_argument("name")
    a = sub.add_parser("at", help="which version held an alias at a time")
    a.add_argument("name")
    a.add_argument("--alias", default="champion")
    a.add_argument("--time", required=True, help="ISO 8601 (no zone: UTC)")
    p.set_defaults(func=_model)


def _print_check(check) -> None:
    for v in check.verdicts:
        print(f"{v.status.value:5} {v.name:14} {v.subject or '':40} {v.message or ''}")


def _model(args: argparse.Namespace) -> int:
    from opskit.analyses.models.alias_history import holder_at, parse_time
    from opskit.errors import InputError
    from opskit.model_registry import Registry, history_path

    uri = args.uri or os.environ.get("OPSKIT_MLFLOW_URI") or os.environ.get("MLFLOW_TRACKING_URI")
    reg, cmd = Registry(uri, history_path(args.history)), args.model_command
    if cmd == "list":
        from opskit.analyses.models.naming import DEFAULT_PATTERN, NamingSettings, naming_verdicts

        names = [args.name] if args.name else sorted(m.name for m in reg.client.search_registered_models())
        labels = []
        for name in names:
            by_version: dict[str, list[str]] = {}
            for alias, version in (reg.model(name).aliases or {}).items():
                by_version.setdefault(str(version), []).append(alias)
            for mv in sorted(reg.client.search_model_versions(f"name='{name}'"), key=lambda m: int(m.version)):
                labels.append((name, str(mv.version), (mv.tags or {}).get(args.label_tag)))
                tags = {k: v for k, v in (mv.tags or {}).items() if k != "opskit.sha256"}
                sums = "checksums recorded" if "opskit.sha256" in (mv.tags or {}) else "no checksums"
                aliases = ",".join(sorted(by_version.get(str(mv.version), []))) or "-"
                print(
                    f"{name} v{mv.version} aliases={aliases} run={mv.run_id or '-'} "
                    f"stage={mv.current_stage} {sums} tags={tags} source={mv.source}"
                )
        settings = NamingSettings(version_pattern=args.pattern or DEFAULT_PATTERN, tag=args.label_tag)
        for v in naming_verdicts(labels, settings):
            if v.status.value != "PASS":
                print(f"{v.status.value} naming {v.subject}: {v.message}")
    elif cmd == "verify":
        check = reg.verify(args.name, args.version, record=args.record)
        _print_check(check)
        print(f"{args.name} v{args.version}: " + ("REFUSED: " + "; ".join(check.reasons) if check.refused else "ok"))
        return 1 if check.refused else 0
    elif cmd == "promote":
        m = reg.move(args.name, args.alias, args.version, reason=args.reason, who=args.who)
        print(f"{m.model} {m.alias}: {m.from_version or '-'} -> {m.to_version} by {m.who} at {m.at}")
    elif cmd == "rollback":
        m, check = reg.rollback(args.name, args.alias, reason=args.reason, to=args.to, force=args.force, who=args.who)
        _print_check(check)
        print(f"{m.model} {m.alias}: rolled back {m.from_version or '-'} -> {m.to_version} by {m.who} at {m.at}")
    elif cmd in ("history", "at"):
        moves, problems = reg.history(args.name)
        for pb in problems:
            print(f"warning: {pb.source}:{pb.line}: {pb.message} (line skipped)")
        if cmd == "history":
            for m in moves:
                print(f"{m.at} {m.alias} {m.from_version or '-'} -> {m.to_version} {m.action} by {m.who}: {m.reason}")
        else:
            try:
                at = parse_time(args.time)
            except ValueError as exc:
                raise InputError(
                    f"unreadable time {args.time!r}", column="--time", hint="ISO 8601, e.g. 2026-11-24T14:00:00Z"
                ) from exc
            held = holder_at(moves, args.name, args.alias, at)
            if held is None:
                print(f"{args.name} {args.alias} at {args.time}: not set (no move before that time in the history)")
                return 1
            print(f"{args.name} {args.alias} at {args.time}: version {held.to_version} (since {held.at}, {held.who})")
    return 0
