"""Expected schemas in the Table Schema shape: fields, constraints, primary key; errors name the field."""

from __future__ import annotations

import pytest

from opskit.errors import InputError
from opskit.sources.dataset_schema import read_schema


def test_reads_fields_constraints_and_key(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "fields:\n"
        "  - {name: id, type: integer, constraints: {required: true, unique: true}}\n"
        "  - {name: age, type: integer, constraints: {minimum: 0, maximum: 120}}\n"
        "  - {name: day, type: date}\n"
        "  - {name: mail, pii: true}\n"
        "  - {name: kind, type: string, constraints: {enum: [a, b]}}\n"
        "primaryKey: id\n"
    )
    schema = read_schema(path)
    assert schema.names == ("id", "age", "day", "mail", "kind") and schema.primary_key == ("id",)
    age = schema.field("age")
    assert (age.type, age.minimum, age.maximum) == ("integer", 0.0, 120.0)
    assert schema.field("day").type == "datetime" and schema.field("mail").pii and schema.field("mail").type == "string"
    assert schema.field("kind").enum == ("a", "b") and schema.field("id").required


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("fields: []\n", "fields", "no 'fields'"),
        ("fields:\n  - {type: integer}\n", "fields[1]", "needs a 'name'"),
        ("fields:\n  - {name: a, type: float64}\n", "fields[1].type", "unknown type"),
        ("fields:\n  - {name: a, constraints: {minimum: low}}\n", "fields[1].minimum", "must be a number"),
        ("fields:\n  - {name: a}\nprimaryKey: [b]\n", "primaryKey", "unknown fields"),
    ],
)
def test_bad_schemas_name_the_field(tmp_path, text, column, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        read_schema(path)
    assert info.value.column == column and words in info.value.reason and info.value.path == str(path)


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("fields:\n  - {name: a\n  - b: [\n")
    with pytest.raises(InputError) as info:
        read_schema(path)
    assert info.value.line is not None and info.value.path == str(path)
