"""The JSON Schema of spec files, generated from the pydantic models and the registry.

Editors use it (yaml-language-server) to complete and check specs. Every layer type
becomes one entry shape; any number, boolean or list may also be a ``$expression``.
"""

from __future__ import annotations

import json
from typing import Any

from archspec.layers import registry
from archspec.spec.model import EntryFields, SpecFile

EXPR = {"type": "string", "pattern": r"^\$", "description": "an expression over vars and block args"}
SCHEMA_ID = "https://archspec.dev/schema/spec.json"


def schema() -> dict[str, Any]:
    root = SpecFile.model_json_schema(ref_template="#/$defs/{model}")
    defs = root.setdefault("$defs", {})
    common = EntryFields.model_json_schema(ref_template="#/$defs/{model}")
    defs.update(common.pop("$defs", {}))
    entries: list[dict[str, Any]] = [
        {"type": "string", "description": "a layer type, block or model with default settings"}
    ]
    for name, layer in sorted(registry().items()):
        params = layer.Params.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(params.pop("$defs", {}))
        params["title"] = f"{name} settings"
        params["description"] = _doc(layer.__doc__)
        forms: list[dict[str, Any]] = [params, {"type": "null"}]
        if layer.primary and layer.primary in params.get("properties", {}):
            forms.append(params["properties"][layer.primary])
        if layer.max_inputs != 1:
            forms.append({"type": "array", "items": {"type": "string"}, "description": "the inputs"})
        entries.append(
            {
                "type": "object",
                "title": name,
                "description": _doc(layer.__doc__),
                "properties": {**common["properties"], name: {"anyOf": forms}},
                "required": [name],
                "additionalProperties": False,
            }
        )
    entries.append(
        {
            "type": "object",
            "title": "block or model instance",
            "description": "a block (with its arguments) or another model of this spec",
            "properties": common["properties"],
            "minProperties": 1,
        }
    )
    defs["LayerEntry"] = {"anyOf": entries}
    _point_layers(root)
    root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    root["$id"] = SCHEMA_ID
    root["title"] = "archspec spec file"
    return _allow_expressions(root)


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


def _doc(text: str | None) -> str:
    return " ".join((text or "").split())


def _point_layers(node: Any) -> None:
    """Make every `layers: list[Any]` a list of LayerEntry."""
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict) and "layers" in props:
            layers = props["layers"]
            target = layers
            for option in layers.get("anyOf", []):
                if option.get("type") == "array":
                    target = option
            target["items"] = {"$ref": "#/$defs/LayerEntry"}
        for value in node.values():
            _point_layers(value)
    elif isinstance(node, list):
        for value in node:
            _point_layers(value)


def _allow_expressions(node: Any) -> Any:
    """Wherever a number, boolean or list is expected, also accept a `$expression`."""
    if isinstance(node, list):
        return [_allow_expressions(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _allow_expressions(v) for k, v in node.items()}
    if out.get("type") in ("integer", "number", "boolean", "array"):
        keep = {k: out.pop(k) for k in ("title", "description", "default") if k in out}
        return {**keep, "anyOf": [out, EXPR]}
    return out
