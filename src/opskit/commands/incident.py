"""``opskit incident new|add-event|import|add-evidence|write|refresh|export|list``: incident folders and postmortems."""

from __future__ import annotations

import argparse
from pathlib import Path

from opskit.privacy import mask_frame


def register(subparsers) -> None:
    p = subparsers.add_parser("incident", help="incident folders and their postmortems")
    p.add_argument("--root", default="incidents", help="folder holding the incident folders (default: incidents)")
    sub = p.add_subparsers(dest="incident_command", required=True)
    n = sub.add_parser("new", help="create incidents/<ID>/")
    n.add_argument("id")
    n.add_argument("--title", default="")
    n.add_argument("--severity", default="P3", choices=["P1", "P2", "P3"])
    e = sub.add_parser("add-event", help="append an event to events.jsonl")
    e.add_argument("id")
    e.add_argument("summary")
    e.add_argument("--kind", default="note", choices=["alert", "deploy", "log", "action", "note"])
    e.add_argument("--at", dest="timestamp", help="ISO 8601 time (default: now, UTC)")
    e.add_argument("--source", default="manual")
    e.add_argument("--link")
    e.add_argument("--author")
    e.add_argument("--mark", choices=["impact_start", "detected", "acknowledged", "mitigated", "resolved"])
    i = sub.add_parser("import", help="import events from an Alertmanager webhook payload (.json) or a CSV export")
    i.add_argument("id")
    i.add_argument("path")
    i.add_argument("--kind", help="kind of CSV rows that name none (e.g. note)")
    v = sub.add_parser("add-evidence", help="copy a file into evidence/ with its SHA-256")
    v.add_argument("id")
    v.add_argument("path")
    for name, text in (("write", "create postmortem.ipynb"), ("refresh", "re-run its evidence cells, keeping edits")):
        w = sub.add_parser(name, help=text)
        w.add_argument("id")
        if name == "write":
            w.add_argument("--lang", default="en", choices=["en", "zh"])
    x = sub.add_parser("export", help="export the postmortem: md, jira (action items CSV) or html")
    x.add_argument("id")
    x.add_argument("--format", default="md", choices=["md", "jira", "html"])
    x.add_argument("--lang", default="en", choices=["en", "zh"])
    x.add_argument("-o", "--output", help="file to write (default: standard output)")
    sub.add_parser("list", help="all incidents: severity, root-cause class, times, overdue action items")
    p.set_defaults(func=_incident)


def _incident(args: argparse.Namespace) -> int:
    from opskit import incidents as inc
    from opskit.incidents import export
    from opskit.runbooks.write_postmortem import index_frame, run

    root, cmd = Path(args.root), args.incident_command
    if cmd == "new":
        print(f"created {inc.new_incident(root, args.id, title=args.title, severity=args.severity)}")
    elif cmd == "add-event":
        inc.add_event(
            root,
            args.id,
            summary=args.summary,
            kind=args.kind,
            timestamp=args.timestamp,
            source=args.source,
            link=args.link,
            author=args.author,
            mark=args.mark,
        )
        print(f"event added to {inc.incident_dir(root, args.id) / 'events.jsonl'}")
    elif cmd == "import":
        read = inc.import_events(root, args.id, args.path, kind=args.kind)
        for problem in read.problems:
            print(f"skipped: {problem}")
        print(f"{len(read.frame)} events imported, {len(read.problems)} lines skipped")
    elif cmd == "add-evidence":
        print(f"kept {inc.add_evidence(root, args.id, args.path)}")
    elif cmd in ("write", "refresh"):
        folder = inc.incident_dir(root, args.id)
        path = inc.write_postmortem(folder, lang=args.lang) if cmd == "write" else inc.refresh_postmortem(folder)
        print(f"postmortem: {path}")
    elif cmd == "export":
        folder = inc.incident_dir(root, args.id)
        text = {
            "md": lambda: export.export_markdown(folder, lang=args.lang),
            "jira": lambda: export.jira_csv(run(incident=str(folder), lang=args.lang)),
            "html": lambda: export.export_html(folder),
        }[args.format]()
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
            print(f"written {args.output}")
        else:
            print(text, end="")
    else:
        folders = sorted(p for p in root.iterdir() if (p / "incident.yaml").exists()) if root.is_dir() else []
        frame = index_frame(folders)
        print(mask_frame(frame).to_string(index=False) if len(frame) else f"no incidents under {root}")
    return 0
