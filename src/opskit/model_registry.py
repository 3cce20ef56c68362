"""Registry actions on MLflow: list, verify, promote, roll back, and the alias history.

Every alias move is appended to a JSON-lines file (``$OPSKIT_MODEL_HISTORY``, default
``reports/model_history.jsonl``) and written to the registered-model tag ``opskit.alias_history``,
so the history survives either being lost. A rollback first verifies the target version
(:mod:`opskit.model_verify`) and refuses a damaged or unsafe one with the reason. HTTP calls use
the short timeouts of :mod:`opskit.tracking`.
"""

from __future__ import annotations

import getpass
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from opskit.analyses.models.alias_history import (
    AliasMove,
    HistoryProblem,
    merge_histories,
    parse_history_lines,
    parse_history_tag,
    previous_version,
    tag_value,
    utc_stamp,
)
from opskit.errors import InputError, MissingDependencyError, OpskitError
from opskit.model_verify import CHECKSUM_TAG, VersionCheck, checksums, parse_checksum_tag, verify_artifacts
from opskit.tracking import short_http_timeouts

HISTORY_TAG = "opskit.alias_history"
ENV_HISTORY = "OPSKIT_MODEL_HISTORY"
DEFAULT_HISTORY = Path("reports") / "model_history.jsonl"


class RefusedError(OpskitError):
    """A registry action refused for a stated reason (a damaged or unverified rollback target)."""

    def __init__(self, message: str, *, check: VersionCheck | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.check = check


def history_path(value: str | os.PathLike[str] | None = None) -> Path:
    return Path(value or os.environ.get(ENV_HISTORY) or DEFAULT_HISTORY)


def client_for(uri: str | None):
    try:
        import mlflow
    except ImportError as exc:
        raise MissingDependencyError("mlflow", extra="mlflow", feature="the model registry") from exc
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


@dataclass
class Registry:
    """One registry (MLflow tracking/registry ``uri``) and one history file."""

    uri: str | None
    history_file: Path

    def __post_init__(self) -> None:
        self.client = client_for(self.uri)

    # ------------------------------------------------------------------------------ reading
    def model(self, name: str):
        from mlflow.exceptions import MlflowException

        with short_http_timeouts():
            try:
                return self.client.get_registered_model(name)
            except MlflowException as exc:
                if "RESOURCE_DOES_NOT_EXIST" not in str(getattr(exc, "error_code", "")) + str(exc):
                    raise
                known = sorted(m.name for m in self.client.search_registered_models())
        raise InputError(f"unknown model {name!r}", column="NAME", hint="known models: " + (", ".join(known) or "none"))

    def version(self, name: str, version: str):
        from mlflow.exceptions import MlflowException

        self.model(name)
        with short_http_timeouts():
            try:
                return self.client.get_model_version(name, str(version))
            except MlflowException:
                known = sorted((v.version for v in self.client.search_model_versions(f"name='{name}'")), key=int)
        raise InputError(
            f"model {name!r} has no version {version}", column="VERSION", hint="known versions: " + ", ".join(known)
        )

    def alias_version(self, name: str, alias: str) -> str:
        aliases = dict(self.model(name).aliases or {})
        if alias not in aliases:
            raise InputError(
                f"model {name!r} has no alias {alias!r}",
                column="--alias",
                hint="known aliases: " + (", ".join(sorted(aliases)) or "none"),
            )
        return str(aliases[alias])

    def history(self, name: str | None = None) -> tuple[list[AliasMove], list[HistoryProblem]]:
        """The merged history (file and, for ``name``, the tag); unusable lines come back as problems."""
        moves, problems = [], []
        if self.history_file.exists():
            with self.history_file.open(encoding="utf-8", errors="replace") as fh:
                moves, problems = parse_history_lines(fh, str(self.history_file))
        if name is not None:
            tag_moves, tag_problems = parse_history_tag((self.model(name).tags or {}).get(HISTORY_TAG))
            moves, problems = merge_histories(moves, tag_moves), problems + tag_problems
            moves = [m for m in moves if m.model == name]
        return merge_histories(moves), problems

    @contextmanager
    def artifacts(self, name: str, version: str) -> Iterator[Path]:
        """The version's artifacts on disk: a local source in place, anything else downloaded to a temp folder."""
        import mlflow

        mv = self.version(name, version)
        source = str(mv.source)
        parsed = urlparse(source)
        if parsed.scheme in ("", "file") and Path(parsed.path if parsed.scheme else source).exists():
            yield Path(parsed.path if parsed.scheme else source)
            return
        with short_http_timeouts(), tempfile.TemporaryDirectory(prefix="opskit-model-") as tmp:
            uri = self.client.get_model_version_download_uri(name, str(version))
            yield Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp, tracking_uri=self.uri))

    # ------------------------------------------------------------------------------ actions
    def verify(self, name: str, version: str, *, record: bool = False) -> VersionCheck:
        """Check a version; with ``record`` and no checksums yet, record them as the ``opskit.sha256`` tag."""
        mv = self.version(name, version)
        recorded = parse_checksum_tag((mv.tags or {}).get(CHECKSUM_TAG))
        with self.artifacts(name, version) as root:
            if recorded is None and record:
                import json

                value = json.dumps(checksums(root), sort_keys=True, separators=(",", ":"))
                with short_http_timeouts():
                    self.client.set_model_version_tag(name, str(version), CHECKSUM_TAG, value)
                recorded = json.loads(value)
            return verify_artifacts(name, str(version), root, recorded)

    def move(
        self, name: str, alias: str, to: str, *, reason: str, who: str | None = None, action: str = "promote"
    ) -> AliasMove:
        """Point ``alias`` at version ``to`` and append the move to both copies of the history."""
        if not reason.strip():
            raise InputError("a reason is required for every alias move", column="--reason")
        self.version(name, to)
        aliases = dict(self.model(name).aliases or {})
        move = AliasMove(
            name,
            alias,
            aliases.get(alias) and str(aliases[alias]),
            str(to),
            who or os.environ.get("OPSKIT_USER") or getpass.getuser(),
            utc_stamp(datetime.now(UTC)),
            reason.strip(),
            action,
        )
        self.history_file.parent.mkdir(parents=True, exist_ok=True)
        with self.history_file.open("a", encoding="utf-8") as fh:  # the file first: it is the durable copy
            fh.write(move.to_json() + "\n")
        history, _ = self.history(name)
        with short_http_timeouts():
            self.client.set_registered_model_alias(name, alias, str(to))
            self.client.set_registered_model_tag(name, HISTORY_TAG, tag_value(merge_histories(history, [move])))
        return move

    def rollback(
        self, name: str, alias: str, *, reason: str, to: str | None = None, force: bool = False, who: str | None = None
    ) -> tuple[AliasMove, VersionCheck]:
        """Move ``alias`` back (to ``to``, else the version it held before) after verifying the target."""
        current = self.alias_version(name, alias)
        if to is None:
            to = previous_version(self.history(name)[0], name, alias, current)
            if to is None:
                raise InputError(
                    f"no earlier version of {name!r} held {alias!r} in the history",
                    column="--to",
                    hint="name the target with --to VERSION",
                )
        if str(to) == current:
            raise InputError(f"{alias!r} already points at version {to}", column="--to")
        check = self.verify(name, str(to))
        if check.refused:
            raise RefusedError(
                f"rollback of {name} {alias} to version {to} refused: " + "; ".join(check.reasons),
                check=check,
                hint="restore the artifacts or choose another version with --to",
            )
        if not check.checksums_recorded and not force:
            raise RefusedError(
                f"rollback of {name} {alias} to version {to} refused: no recorded checksums ({CHECKSUM_TAG}), "
                "so its artifacts cannot be shown to be the ones registered",
                check=check,
                hint="pass --force to roll back anyway (format and pickle checks passed), "
                "or record them first with `opskit model verify NAME VERSION --record`",
            )
        return self.move(name, alias, str(to), reason=reason, who=who, action="rollback"), check
