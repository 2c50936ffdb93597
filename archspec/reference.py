"""The layer reference (docs/layers.md), generated from the registry."""

from __future__ import annotations

from typing import Any

from pydantic_core import PydanticUndefined

from archspec.layers import registry
from archspec.layers.base import LayerType


def layer_reference() -> str:
    layers = registry()
    families: dict[str, list[type[LayerType]]] = {}
    for _, layer in sorted(layers.items()):
        families.setdefault(layer.family, []).append(layer)
    out = [
        "# Layer reference",
        "",
        "Generated from the layer registry by `archspec layers --markdown`; a test keeps it current.",
        "Input sizes (in_features, in_channels, input_size, embed_dim) are never written: they are",
        "inferred from the input's shape. A scalar after the type sets the *shorthand* field",
        "(`linear: 64` is `linear: {out: 64}`).",
        "",
    ]
    for family in sorted(families):
        out += [f"## {family}", ""]
        for layer in families[family]:
            out += _layer(layer)
    return "\n".join(out).rstrip() + "\n"


def _layer(layer: type[LayerType]) -> list[str]:
    doc = " ".join((layer.__doc__ or "").split())
    lo, hi = layer.min_inputs, layer.max_inputs
    arity = str(lo) if lo == hi else f"{lo}+" if hi is None else f"{lo}-{hi}"
    lines = [f"### `{layer.name}`", "", doc, "", f"Inputs: {arity}."]
    if layer.primary:
        lines[-1] += f" Shorthand: `{layer.name}: <{layer.primary}>`."
    fields = layer.Params.model_fields
    if fields:
        lines += ["", "| setting | type | default |", "|---|---|---|"]
        for name, f in fields.items():
            lines.append(f"| `{name}` | {_type(f.annotation)} | {_default(f.default)} |")
    return [*lines, ""]


def _type(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    text = text or str(annotation).replace("typing.", "")
    return text.replace("|", "\\|")


def _default(value: Any) -> str:
    if value is PydanticUndefined:
        return "required"
    return f"`{value!r}`".replace("|", "\\|")
