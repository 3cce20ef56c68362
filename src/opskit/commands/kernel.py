"""``opskit kernel``: install the ``opskit`` Jupyter kernel for this environment, show which one runs.

Runbooks name the ``opskit`` kernel in their metadata. ``make setup`` installs it into the
environment (``--sys-prefix``); under a shared JupyterHub, whose server only sees its own
environment and the user's folder, install it with ``--user``.
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "kernel",
        help="install the opskit Jupyter kernel, show which kernel runbooks run in",
        description=(
            "The 'opskit' kernel runs this environment's Python, so JupyterLab (and JupyterHub) open the "
            "runbooks in a Python that can import opskit. 'opskit run' uses it when it is installed for this "
            "interpreter, else this interpreter directly; a kernelspec of another Python is never used."
        ),
    )
    sub = p.add_subparsers(dest="kernel_command", metavar="COMMAND", required=True)

    inst = sub.add_parser(
        "install",
        help="install the kernelspec (default: into this environment, --sys-prefix)",
        description="Install (or replace) the kernelspec with ipykernel's installer.",
    )
    where = inst.add_mutually_exclusive_group()
    where.add_argument(
        "--sys-prefix",
        dest="scope",
        action="store_const",
        const="sys-prefix",
        help=f"into this environment ({sys.prefix}); the default",
    )
    where.add_argument(
        "--user",
        dest="scope",
        action="store_const",
        const="user",
        help="into your user's Jupyter folder (what a shared JupyterHub sees)",
    )
    where.add_argument("--prefix", metavar="DIR", help="under DIR/share/jupyter/kernels (for packaging)")
    inst.add_argument("--name", default="opskit", help="kernelspec name (default opskit: the name runbooks use)")
    inst.add_argument("--display-name", default=None, help="name shown in JupyterLab (default: opskit (ENV PATH))")
    inst.set_defaults(func=_install, scope=None)

    show = sub.add_parser("show", help="which kernel 'opskit run' uses, and every opskit kernelspec found")
    show.add_argument("--name", default="opskit", help="kernelspec name to look for (default opskit)")
    show.set_defaults(func=_show)


def _install(args: argparse.Namespace) -> int:
    from opskit.kernel import find_installed, install_kernel

    scope = "prefix" if args.prefix else (args.scope or "sys-prefix")
    path = install_kernel(scope=scope, name=args.name, display_name=args.display_name, prefix=args.prefix)
    print(f"installed kernelspec {args.name!r} for {sys.executable} in {path}")
    if scope != "prefix":
        first = next(iter(find_installed(args.name)), None)
        if first is not None and not first.ours and first.resource_dir != path:
            print(
                f"warning: JupyterLab picks {first.resource_dir} first, which starts {first.argv[:1]}; "
                f"remove it (jupyter kernelspec remove {args.name}) or install under another --name",
                file=sys.stderr,
            )
    if args.name != "opskit":
        print("note: runbooks name the 'opskit' kernel; a kernel of another name is chosen by hand in JupyterLab")
    return 0


def _show(args: argparse.Namespace) -> int:
    from opskit.kernel import KERNEL_NAME, find_installed, run_kernel_spec

    found = find_installed(args.name)
    for i, kernel in enumerate(found):
        role = "JupyterLab's choice" if i == 0 else "shadowed"
        if kernel.error:
            state = f"unreadable: {kernel.error}"
        else:
            state = "this interpreter" if kernel.ours else f"another Python: {kernel.argv[0] if kernel.argv else '?'}"
        print(f"{kernel.resource_dir}  [{role}; {state}]")
    if not found:
        print(f"no {args.name!r} kernelspec installed; install it with: opskit kernel install")
    if args.name == KERNEL_NAME:
        spec = run_kernel_spec()
        source = spec.resource_dir or "built from this interpreter (none installed for it)"
        print(f"opskit run uses: {spec.argv[0]} ({source})")
    return 0
