"""The JSON Schema of spec files, generated from the pydantic models and the registry.

Editors use it (yaml-language-server) to complete and check specs. A layer entry is a
name (a layer type, block or model with default settings) or a mapping. A mapping whose
key is a registered layer type is checked as that layer: its settings, their types and
the entry's own keys (``name``, ``inputs``, ``repeat`` ...), misspellings included. Any
other key may be a block or another model, whose arguments only ``archspec check`` knows,
so that entry's value is left open. Wherever a number, boolean, list or fixed word is
expected, a ``$expression`` is accepted too.
"""

from __future__ import annotations

import json
import keyword
from typing import Any

from archspec.layers import registry
from archspec.spec.model import EntryFields, SpecFile
from archspec.spec.names import MAX_NAME, RESERVED

EXPR = {"type": "string", "pattern": r"^\$", "description": "an expression over vars and block args"}
SCHEMA_ID = "https://archspec.dev/schema/spec.json"
NAME = {
    "type": "string",
    "pattern": rf"^([A-Za-z][A-Za-z0-9_]{{0,{MAX_NAME - 1}}}|0|[1-9][0-9]{{0,5}})$",
    "not": {"enum": sorted((RESERVED - {"self"}) | set(keyword.kwlist) | set(keyword.softkwlist))},
    "description": "the node's name: an identifier (not a Python keyword or torch.nn.Module attribute; "
    "`self` is allowed), or digits alone as torch.nn.Sequential names its children ('0', '1', ...)",
}
REPEAT = {
    "anyOf": [{"type": "integer", "minimum": 0}, EXPR],
    "description": "stack this many copies, chained (`index` is 0, 1, ... in each): an int or $expression",
}
_WRAPPED = ("integer", "number", "boolean", "array")


def schema() -> dict[str, Any]:
    root = _allow_expressions(SpecFile.model_json_schema(ref_template="#/$defs/{model}"))
    defs = root.setdefault("$defs", {})
    common = _entry_fields(defs)
    layers = registry()
    entries: list[dict[str, Any]] = [
        {"type": "string", "description": "a layer type, block or model with default settings"}
    ]
    entries += [_layer_entry(name, layers[name], common, defs) for name in sorted(layers)]
    entries.append(_instance_entry(common, sorted(layers)))
    defs["LayerEntry"] = {"anyOf": entries}
    for holder in (root, defs["ModelSpec"], defs["BlockSpec"]):
        holder["properties"]["layers"] = _layer_list(holder["properties"]["layers"])
    root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    root["$id"] = SCHEMA_ID
    root["title"] = "archspec spec file"
    return root


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


def _entry_fields(defs: dict[str, Any]) -> dict[str, Any]:
    """The keys any entry may have besides its type key (`name`, `inputs`, `repeat` ...)."""
    common = _allow_expressions(EntryFields.model_json_schema(ref_template="#/$defs/{model}"))
    defs.update(common.pop("$defs", {}))
    props: dict[str, Any] = common["properties"]
    props["name"] = NAME
    props["repeat"] = REPEAT
    return props


def _layer_entry(name: str, layer: Any, common: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """An entry of one layer type: `{conv2d: {...}, name: ..., ...}`, nothing else."""
    params = _allow_expressions(layer.Params.model_json_schema(ref_template="#/$defs/{model}"))
    defs.update(params.pop("$defs", {}))
    doc = _doc(layer.__doc__)
    params["title"] = f"{name} settings"
    forms: list[dict[str, Any]] = [params, {"type": "null"}]
    if layer.primary and layer.primary in params.get("properties", {}):
        forms.append(params["properties"][layer.primary])
    if layer.max_inputs != 1:
        forms.append({"type": "array", "items": {"type": "string"}, "description": "the inputs"})
    return {
        "type": "object",
        "properties": {**common, name: {"anyOf": forms, "description": doc}},
        "additionalProperties": False,
        # the type key is required, said without `required` (which editors would offer again,
        # as a snippet named after the entry): some key must be other than the common ones
        "not": {"type": "object", "propertyNames": {"enum": sorted(common)}},
    }


def _instance_entry(common: dict[str, Any], layer_names: list[str]) -> dict[str, Any]:
    """A block or model instance: one key that is not a layer type (checked by `archspec check`)."""
    return {
        "type": "object",
        "description": "a block (with its arguments) or another model of this spec",
        "properties": common,
        "propertyNames": {"not": {"enum": layer_names}},
        "not": {"type": "object", "propertyNames": {"enum": sorted(common)}},  # a key besides these
        "minProperties": 1,
    }


def _layer_list(prop: dict[str, Any]) -> dict[str, Any]:
    """`layers: list[Any]` (maybe optional) as a list of LayerEntry."""
    listed = {"type": "array", "items": {"$ref": "#/$defs/LayerEntry"}, "minItems": 1}
    if any(option.get("type") == "null" for option in prop.get("anyOf", [])):
        return {"anyOf": [listed, {"type": "null"}]}
    return listed


def _doc(text: str | None) -> str:
    return " ".join((text or "").split())


def _allow_expressions(node: Any) -> Any:
    """Wherever a number, boolean, list or fixed word is expected, also accept a `$expression`."""
    if isinstance(node, list):
        return [_allow_expressions(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _allow_expressions(v) for k, v in node.items()}
    if out.get("type") in _WRAPPED or "enum" in out or "const" in out:
        keep = {k: out.pop(k) for k in ("title", "description", "default") if k in out}
        return {**keep, "anyOf": [out, EXPR]}
    return out
