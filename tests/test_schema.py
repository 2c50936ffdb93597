"""The JSON Schema catches what a schema can see: misspelled keys and wrong types inside `layers:`.

The broken-spec corpus's schema-level cases are rejected, every shipped spec is accepted,
the schema is valid Draft 2020-12, and it keeps to ajv's strict mode rules (checked here
without node: every type-specific keyword sits beside the `type` it applies to).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from archspec.layers import registry
from archspec.spec.loader import load_path, load_text
from archspec.spec.schema import schema

jsonschema = pytest.importorskip("jsonschema")

BROKEN = ROOT / "tests" / "broken"
# The corpus's cases whose mistake is visible to a schema: a misspelled or unknown key, a
# value of the wrong type or out of range, a bad name. The others need shapes, references,
# the block's declaration or the YAML reader itself, and are `archspec check`'s to find.
SCHEMA_CASES = [
    "bad_name.yaml",
    "bad_value.yaml",
    "bool_string.yaml",
    "empty_layers.yaml",
    "misspelled_entry_key.yaml",
    "misspelled_setting.yaml",
    "name_control.yaml",
    "name_html.yaml",
    "name_keyword.yaml",
    "name_quotes.yaml",
    "name_reserved.yaml",
    "negative_stride.yaml",
    "not_a_mapping.yaml",
    "on_off.yaml",
    "regularizer_negative.yaml",
    "repeat_word.yaml",
    "sexagesimal.yaml",
    "shorthand_word.yaml",
    "timestamp.yaml",
    "torch_field_name.yaml",
    "two_types.yaml",
    "unknown_field.yaml",
    "when_string.yaml",
    "wrong_type.yaml",
    "zero_stride.yaml",
]
SHIPPED = sorted(
    p
    for folder in ("specs", "tests/specs", "tests/diagram_specs", "tests/diff_specs", "examples")
    for p in (ROOT / folder).rglob("*")
    if p.suffix in (".yaml", ".yml", ".json") and "broken" not in p.parts
)
_TYPED = {  # keyword -> the JSON type it applies to (ajv strictTypes)
    "items": "array",
    "prefixItems": "array",
    "minItems": "array",
    "maxItems": "array",
    "properties": "object",
    "additionalProperties": "object",
    "required": "object",
    "propertyNames": "object",
    "minProperties": "object",
    "pattern": "string",
    "minLength": "string",
    "minimum": "number",
    "maximum": "number",
    "exclusiveMinimum": "number",
    "exclusiveMaximum": "number",
}


@pytest.fixture(scope="module")
def validator() -> Any:
    return jsonschema.Draft202012Validator(schema())


def _errors(validator: Any, data: Any) -> list[str]:
    return [e.message for e in validator.iter_errors(data)]


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())


def test_schema_keeps_ajv_strict_types() -> None:
    bad: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}/{i}")
        elif isinstance(node, dict):
            for key, typ in _TYPED.items():
                declared = node.get("type")
                ok = declared == typ or (typ == "number" and declared == "integer")
                # `properties`/`items` hold sub-schemas by name: a key named `items` is no keyword
                if key in node and not ok and not where.endswith(("/properties", "/$defs")):
                    bad.append(f"{where}: '{key}' without type {typ}")
            for k, v in node.items():
                walk(v, f"{where}/{k}")

    walk(schema(), "#")
    assert bad == []


@pytest.mark.parametrize("name", SCHEMA_CASES)
def test_schema_level_mistakes_are_rejected(validator: Any, name: str) -> None:
    data = load_path(BROKEN / name).data  # read as archspec (and editors) read YAML: 1.2 scalars
    assert _errors(validator, data), f"{name} passes the schema"


def test_every_schema_case_is_in_the_corpus() -> None:
    assert all((BROKEN / name).is_file() for name in SCHEMA_CASES)


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(ROOT)) for p in SHIPPED])
def test_shipped_specs_validate(validator: Any, path: Path) -> None:
    assert _errors(validator, load_path(path).data) == []


def _entry(text: str) -> Any:
    return load_text(f"inputs: {{x: [batch, 8]}}\nlayers:\n  - {text}\n").data


@pytest.mark.parametrize(
    "entry",
    [
        "{conv2d: {out: 4, kernal: 3}}",  # misspelled setting
        "{linear: 4, inptus: x}",  # misspelled entry key beside a layer
        '{linear: {out: 4, bias: "no"}}',
        "{linear: many}",
        "{linear: 4, repeat: two}",
        "{linear: 4, repeat: 1.5}",
        "{myblock: {}, repeat: two}",  # a block instance's own keys are checked too
        "{name: fc1}",  # no type key
        "{linear: 4, relu: null}",  # two types
        "{linear: {out: 4}, when: maybe}",
    ],
)
def test_mistakes_inside_layers_are_schema_errors(validator: Any, entry: str) -> None:
    # (`{myblock: {}, inptus: x}` passes: two unknown keys may be a block and a typo, or two
    # blocks; which, only `archspec check` can tell.)
    assert _errors(validator, _entry(entry)), entry


@pytest.mark.parametrize(
    "entry",
    [
        "relu",
        "{linear: 4}",
        "{linear: $width}",
        "{linear: {out: $width, bias: $use_bias}}",
        "{conv2d: {out: 8, kernel: 3, padding: $pad_mode}}",  # a fixed word may be an expression
        "{name: fc, linear: 4, repeat: $depth, when: $deep, trainable: false}",
        "{myblock: {channels: 64}, repeat: 2, name: stage1}",
        "{myblock: 64, repeat: $n}",
        "{name: d, discriminator, trainable: false}",
        "{add: [a, b]}",
        "{dropout: 0.1, init: {weight: xavier_uniform}}",
    ],
)
def test_valid_entries_and_expressions_pass(validator: Any, entry: str) -> None:
    assert _errors(validator, _entry(entry)) == []


def test_each_layer_type_is_one_entry_shape() -> None:
    """One alternative per layer type, whose key is the only type key it allows (no duplicates
    for an editor to offer), and an open alternative that refuses every layer type's key."""
    entries = schema()["$defs"]["LayerEntry"]["anyOf"]
    keyed = [e for e in entries if e.get("additionalProperties") is False]
    common = set(keyed[0]["properties"]) & set(keyed[1]["properties"])
    own = [next(iter(set(e["properties"]) - common)) for e in keyed]
    assert own == sorted(registry())
    assert all("required" not in e for e in entries)
    (instance,) = [e for e in entries if e.get("propertyNames")]
    assert sorted(instance["propertyNames"]["not"]["enum"]) == sorted(registry())
