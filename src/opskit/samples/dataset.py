"""Sample data for check_dataset: a support-ticket classifier's training set, its reference and schema.

``sample:dataset`` is a folder of four CSV parts, an export log and a ``MANIFEST.json`` written when
the export finished. Planted, by construction (see the constants below):

* ``train/part-0003.csv`` was cut after the manifest was written: its last record stops mid-line;
* ``train/part-0001.csv`` has lines whose ``comment`` holds an unquoted comma (``SHIFTED_LINES``),
  shifting the columns after it;
* ``income`` became mostly missing (``MISSING_SHARE`` of rows against 1 % in the reference);
* ``session_s`` has ``OUTLIERS`` values far outside its usual range, ``age`` a few impossible ones;
* ``DUPLICATES`` rows repeated exactly and ``KEY_REPEATS`` rows reusing an earlier ``record_id``;
* the label class ``GONE_CLASS`` has no row;
* phone numbers, Chinese resident ID numbers and e-mails in the free-text ``comment``;
* a Hugging Face token in ``logs/export.log`` (``TOKEN_LINE``).

``sample:dataset_clean`` is the same data with none of these; ``sample:dataset_reference`` an earlier,
clean export (4,000 rows); ``sample:dataset_schema`` the expected schema (YAML).
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np

from opskit.samples import scenario
from opskit.sources.dataset_manifest import MANIFEST_NAME, build_manifest, write_manifest

SEED = 20261202
EXPORTED_AT = "2026-11-29T02:04:40Z"
PART_ROWS = 1_500
PARTS = 4
COLUMNS = ("record_id", "created_at", "age", "income", "session_s", "country", "comment", "label")
CLASSES = ("billing", "outage", "account")
GONE_CLASS = "account"
TRUNCATED_FILE = "train/part-0003.csv"
SHIFTED_FILE = "train/part-0001.csv"
SHIFTED_LINES = (40, 211, 590, 902, 1333)
MISSING_COLUMN, MISSING_SHARE = "income", 0.7
OUTLIER_COLUMN, OUTLIERS = "session_s", 45
RANGE_COLUMN, RANGE_LINES = "age", {"train/part-0002.csv": (77, 640)}
DUPLICATE_FILE, DUPLICATES, KEY_REPEATS = "train/part-0002.csv", 20, 8
PII_COLUMN = "comment"
PII_KINDS = ("cn_resident_id", "email", "phone")
TOKEN_FILE, TOKEN_LINE = "logs/export.log", 4
_WORDS = (
    "cannot log in",
    "invoice is wrong",
    "service down since morning",
    "refund please",
    "slow dashboard",
    "password reset loop",
    "charged twice",
    "api returns errors",
    "upgrade plan",
    "cannot reach support",
)
_COUNTIES = ("110101", "110102", "310104", "310101")  # districts of Beijing and Shanghai older than 1960
_COUNTRIES = ("DE", "FR", "CN", "US", "BR", "IN", "JP")


def _resident_id(rng: np.random.Generator) -> str:
    """A made-up Chinese resident ID number with a valid check digit (GB 11643)."""
    body = f"{rng.choice(_COUNTIES)}{rng.integers(1960, 2004)}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}"
    body += f"{rng.integers(0, 1000):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def _rows(rng: np.random.Generator, n: int, first_id: int, *, classes: tuple[str, ...]) -> list[list[str]]:
    start = np.datetime64("2026-11-01T00:00:00")
    seconds = np.sort(rng.integers(0, 28 * 86400, n))
    income = np.exp(rng.normal(10.5, 0.5, n)).round(2)
    session = np.clip(rng.normal(300, 60, n), 120, 480).round(1)
    rows = []
    for i in range(n):
        rows.append(
            [
                str(first_id + i),
                str(start + np.timedelta64(int(seconds[i]), "s")) + "Z",
                str(int(rng.integers(18, 80))),
                "" if rng.random() < 0.01 else f"{income[i]:.2f}",
                f"{session[i]:.1f}",
                str(rng.choice(_COUNTRIES)),
                str(rng.choice(_WORDS)),
                str(rng.choice(classes)),
            ]
        )
    return rows


def _write_csv(path: Path, rows: list[list[str]], raw_lines: dict[int, str] | None = None) -> None:
    """Write the header and ``rows``; ``raw_lines`` (line number -> text) replace lines written as they are."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        for line, row in enumerate(rows, 2):
            if raw_lines and line in raw_lines:
                fh.write(raw_lines[line] + "\n")
            else:
                writer.writerow(row)


def _plant(parts: list[list[list[str]]], rng: np.random.Generator) -> dict[int, str]:
    """Plant the content problems into the parts (in place); return the shifted lines of SHIFTED_FILE."""
    every = [row for part in parts for row in part]
    for row in every:
        if rng.random() < MISSING_SHARE:
            row[3] = ""
    for index in rng.choice(len(every), OUTLIERS, replace=False):
        every[index][4] = f"{rng.uniform(5_000, 90_000):.1f}"
    for file_part, lines in ((2, RANGE_LINES["train/part-0002.csv"]),):
        for line, value in zip(lines, ("-3", "420"), strict=True):
            parts[file_part][line - 2][2] = value
    pii = [f"call me on 1{rng.choice([38, 39, 58, 86])}{rng.integers(10**7, 10**8)}" for _ in range(6)]
    pii += [f"my id {_resident_id(rng)} for the refund" for _ in range(5)]
    pii += [f"reply to user{rng.integers(100, 999)}@example.com" for _ in range(6)]
    for text, index in zip(pii, rng.choice(PART_ROWS, len(pii), replace=False), strict=True):
        parts[0][index][6] = text
    dup = parts[2]
    for k in range(DUPLICATES):
        dup[300 + k] = list(dup[100 + k])
    for k in range(KEY_REPEATS):
        dup[500 + k][0] = dup[1000 + k][0]
    shifted = {}
    for line in SHIFTED_LINES:
        row = list(parts[1][line - 2])
        row[6] = "great, thanks"
        shifted[line] = ",".join(row)
    return shifted


def write_dataset(folder: Path, *, planted: bool) -> Path:
    """The dataset folder (four parts, a log, the manifest); ``planted`` plants every problem above."""
    rng = np.random.default_rng(SEED)
    classes = tuple(c for c in CLASSES if c != GONE_CLASS) if planted else CLASSES
    parts = [_rows(rng, PART_ROWS, 1 + p * PART_ROWS, classes=classes) for p in range(PARTS)]
    shifted = _plant(parts, rng) if planted else {}
    root = Path(folder) / "dataset"
    for p, rows in enumerate(parts):
        name = f"train/part-{p:04d}.csv"
        _write_csv(root / name, rows, shifted if name == SHIFTED_FILE else None)
    log = [
        "2026-11-29T02:00:01Z export started: 4 parts, 6000 rows",
        "2026-11-29T02:00:02Z connected to warehouse ticketing.prod",
        "2026-11-29T02:00:02Z using service account export-bot",
        ("2026-11-29T02:00:03Z uploading with token hf_" + "Q7r2Lk9PzX4mWv8NbT3yHs6JcD1aEuF5")
        if planted
        else "2026-11-29T02:00:03Z uploading to the dataset hub",
        "2026-11-29T02:04:40Z export finished",
    ]
    (root / "logs").mkdir()
    (root / TOKEN_FILE).write_text("\n".join(log) + "\n", encoding="utf-8")
    manifest = replace(build_manifest(root), created_at=EXPORTED_AT)  # fixed: same seed, same bytes
    write_manifest(manifest, root / MANIFEST_NAME)
    if planted:  # cut after the manifest: a copy that stopped mid-record
        cut = root / TRUNCATED_FILE
        data = cut.read_bytes()
        cut.write_bytes(data[: data.rstrip(b"\n").rfind(b"\n") + 25])
    return root


@scenario("dataset", "support-ticket training set with planted problems: cut file, shifted column, PII, token")
def write_planted(folder: Path) -> Path:
    return write_dataset(folder, planted=True)


@scenario("dataset_clean", "the same training set without any planted problem")
def write_clean(folder: Path) -> Path:
    return write_dataset(folder, planted=False)


@scenario("dataset_reference", "an earlier, clean export of the training set (4,000 rows)")
def write_reference(folder: Path) -> Path:
    rng = np.random.default_rng(SEED + 1)
    path = Path(folder) / "reference" / "part-0000.csv"
    _write_csv(path, _rows(rng, 4_000, 1, classes=CLASSES))
    return path.parent


SCHEMA_YAML = """\
# Expected schema of the support-ticket training set (Frictionless Table Schema fields)
fields:
  - {name: record_id, type: integer, constraints: {required: true, unique: true, minimum: 1}}
  - {name: created_at, type: datetime}
  - {name: age, type: integer, constraints: {minimum: 0, maximum: 120}}
  - {name: income, type: number, constraints: {minimum: 0}}
  - {name: session_s, type: number, constraints: {minimum: 0}}
  - {name: country, type: string}
  - {name: comment, type: string}
  - {name: label, type: string, constraints: {enum: [billing, outage, account]}}
primaryKey: record_id
"""


@scenario("dataset_schema", "the expected schema of the training set (YAML)")
def write_schema(folder: Path) -> Path:
    path = Path(folder) / "schema.yaml"
    path.write_text(SCHEMA_YAML, encoding="utf-8")
    return path
