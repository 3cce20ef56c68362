"""An RBAC policy for a model registry: roles with the actions they allow on which models, and their principals.

YAML::

    roles:
      algorithm:   {actions: [read, download], models: ["fraud-*"]}
      operations:  {actions: [read, download, write, delete]}
      viewer:      {actions: [read]}
    principals:
      alice@example.com: [algorithm]
      ci-bot: operations

``models`` are shell patterns (default ``*``, every model); actions are those the access-log reader
names (:data:`ACTIONS`). A principal naming a role that ``roles`` does not define is an InputError
with the file and the line, never an empty grant.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import yaml

from opskit.errors import InputError

ACTIONS = ("read", "download", "write", "delete")


@dataclass(frozen=True)
class Role:
    """A role: the actions it allows, on the models matching its patterns."""

    name: str
    actions: frozenset[str]
    models: tuple[str, ...] = ("*",)

    def allows(self, action: str, model: str | None) -> bool:
        if action not in self.actions:
            return False
        return model is None or any(fnmatchcase(model, pattern) for pattern in self.models)


@dataclass(frozen=True)
class RbacPolicy:
    """Roles by name and each principal's roles."""

    roles: dict[str, Role]
    principals: dict[str, tuple[str, ...]]
    path: str | None = None

    def knows(self, principal: str) -> bool:
        return principal in self.principals

    def allows(self, principal: str, action: str, model: str | None) -> bool:
        """True when one of ``principal``'s roles allows ``action`` on ``model``."""
        return any(self.roles[r].allows(action, model) for r in self.principals.get(principal, ()))

    def roles_of(self, principal: str) -> tuple[str, ...]:
        return self.principals.get(principal, ())


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _mapping(node: yaml.Node | None, what: str, path: Path) -> list[tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        raise InputError(
            f"{what} must be a mapping",
            path=path,
            line=_line(node) if node is not None else None,
            hint="see the example in opskit.sources.rbac_policy",
        )
    return node.value


def _strings(node: yaml.Node, what: str, path: Path) -> list[tuple[str, int]]:
    if isinstance(node, yaml.ScalarNode):
        return [(str(node.value), _line(node))]
    if isinstance(node, yaml.SequenceNode) and all(isinstance(n, yaml.ScalarNode) for n in node.value):
        return [(str(n.value), _line(n)) for n in node.value]
    raise InputError(f"{what} must be a name or a list of names", path=path, line=_line(node))


def _role(name: str, node: yaml.Node, path: Path) -> Role:
    fields = {k.value: v for k, v in _mapping(node, f"role {name!r}", path)}
    unknown = set(fields) - {"actions", "models", "description"}
    if unknown:
        raise InputError(f"role {name!r}: unknown key(s) {sorted(unknown)}", path=path, line=_line(node))
    if "actions" not in fields:
        raise InputError(f"role {name!r} lists no actions", path=path, line=_line(node), hint="actions: [read, ...]")
    actions = _strings(fields["actions"], f"role {name!r} actions", path)
    for action, line in actions:
        if action not in ACTIONS:
            raise InputError(
                f"role {name!r}: unknown action {action!r}",
                path=path,
                line=line,
                hint="actions are " + ", ".join(ACTIONS),
            )
    models = tuple(m for m, _ in _strings(fields["models"], "models", path)) if "models" in fields else ("*",)
    return Role(name, frozenset(a for a, _ in actions), models)


def read_rbac_policy(path: str | Path) -> RbacPolicy:
    """Read the YAML policy at ``path``; a bad shape, an unknown action or an unknown role is an InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path=path, hint="pass the RBAC policy (YAML: roles, principals)")
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 text (byte {exc.start}): not a YAML policy", path=path, hint="save the policy as UTF-8"
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(
            f"not valid YAML: {getattr(exc, 'problem', exc)}", path=path, line=mark.line + 1 if mark else None
        ) from exc
    sections = {k.value: v for k, v in _mapping(root, "the policy", path)}
    for key in ("roles", "principals"):
        if key not in sections:
            raise InputError(f"no {key!r} section", path=path, hint="the policy has 'roles' and 'principals'")
    roles = {k.value: _role(k.value, v, path) for k, v in _mapping(sections["roles"], "roles", path)}
    principals: dict[str, tuple[str, ...]] = {}
    for key, value in _mapping(sections["principals"], "principals", path):
        names = _strings(value, f"principal {key.value!r}", path)
        for role, line in names:
            if role not in roles:
                raise InputError(
                    f"principal {key.value!r} names unknown role {role!r}",
                    path=path,
                    line=line,
                    hint="defined roles: " + ", ".join(sorted(roles)),
                )
        principals[str(key.value)] = tuple(r for r, _ in names)
    return RbacPolicy(roles, principals, str(path))
