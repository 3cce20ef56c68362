"""RBAC policy files: roles, principals, model patterns, and unknown roles reported with file and line."""

from __future__ import annotations

import pytest

from opskit.errors import InputError
from opskit.sources.rbac_policy import read_rbac_policy

POLICY = """\
roles:
  algorithm:
    actions: [read, download]
    models: ["fraud-*"]
  viewer:
    actions: read
principals:
  alice@example.com: [algorithm, viewer]
  dave: viewer
"""


def test_roles_and_grants(tmp_path):
    path = tmp_path / "rbac.yaml"
    path.write_text(POLICY)
    policy = read_rbac_policy(path)
    assert policy.roles_of("alice@example.com") == ("algorithm", "viewer")
    assert policy.allows("alice@example.com", "download", "fraud-detector")
    assert not policy.allows("alice@example.com", "download", "churn-model")  # outside the pattern
    assert policy.allows("alice@example.com", "read", "churn-model")  # viewer covers every model
    assert not policy.allows("dave", "download", "fraud-detector")
    assert not policy.allows("eve", "read", "fraud-detector") and not policy.knows("eve")


def test_unknown_role_names_file_and_line(tmp_path):
    path = tmp_path / "rbac.yaml"
    path.write_text(POLICY.replace("dave: viewer", "dave: [viewer, auditor]"))
    with pytest.raises(InputError, match="unknown role 'auditor'") as info:
        read_rbac_policy(path)
    assert info.value.path == str(path) and info.value.line == 9
    assert "algorithm, viewer" in str(info.value)


@pytest.mark.parametrize(
    ("text", "match", "line"),
    [
        (POLICY.replace("actions: read\n", "actions: [read, fly]\n"), "unknown action 'fly'", 6),
        (POLICY.replace("principals:", "people:"), "no 'principals' section", None),
        ("roles: [a, b]\nprincipals: {}\n", "roles must be a mapping", 1),
        ("roles:\n  a: {actions: [read]\nprincipals: {}\n", "not valid YAML", 3),
    ],
)
def test_bad_policies(tmp_path, text, match, line):
    path = tmp_path / "rbac.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=match) as info:
        read_rbac_policy(path)
    assert info.value.line == line
