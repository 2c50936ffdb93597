"""The layer reference (docs/layers.md), generated from the registry."""

from __future__ import annotations

import types
import typing
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
    lines[-1] += _knowledge(layer)
    fields = layer.Params.model_fields
    if fields:
        lines += ["", "| setting | type | default |", "|---|---|---|"]
        for name, f in fields.items():
            lines.append(f"| `{name}` | {_type(f.annotation)} | {_default(f.default)} |")
    return [*lines, ""]


def _knowledge(layer: type[LayerType]) -> str:
    """What `regularizer:` penalizes and what `tie:` shares, from the layer's first example."""
    parts = []
    if layer.examples:
        params, xs = layer.examples[0]
        penalized = layer.penalized(layer.Params.model_validate(params), xs)
        if penalized:
            parts.append("Penalized by `regularizer:`: " + ", ".join(f"`{n}`" for n in penalized) + ".")
    if layer.tied:
        parts.append(f"`tie:` shares `{layer.tied}`.")
    return "".join(" " + p for p in parts)


def _type(annotation: Any) -> str:
    return _plain(annotation).replace("|", "\\|")


def _plain(t: Any) -> str:
    """A readable type: ``int | list[int]``, ``'relu' | 'gelu'`` (constraints left out)."""
    origin, args = typing.get_origin(t), typing.get_args(t)
    if origin is typing.Annotated:
        return _plain(args[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_plain(a) for a in args)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(_plain(a) for a in args)}]"
    if t is type(None):
        return "null"
    return getattr(t, "__name__", str(t).replace("typing.", ""))


def _default(value: Any) -> str:
    if value is PydanticUndefined:
        return "required"
    return f"`{value!r}`".replace("|", "\\|")
