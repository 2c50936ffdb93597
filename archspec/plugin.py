"""The public plugin API: everything a layer plugin needs, and nothing it should not touch.

A plugin package registers layer types through the ``archspec.layers`` entry-point group
(see docs/plugins.md and examples/plugin). A plugin layer has the same powers as a built-in one:
its settings, shape rule, parameter and buffer shapes, costs (its matrix products as ``Product`` s
and its other FLOPs, by the rules in ``costs``), torch module (or function), label,
which parameter a ``tie:`` shares (``tied``), which parameters penalties act on
(``penalized``), and whether it exports to ONNX (``onnx_issue``). Import from here only: the
modules behind these names may change between versions, this list will not.
"""

from __future__ import annotations

from archspec.errors import ArchspecError
from archspec.layers import costs, get_layer, register_layer, registry
from archspec.layers.base import (
    LayerParams,
    LayerType,
    Shape,
    ShapeError,
    TorchCtor,
    TorchFn,
    need_float,
    need_int,
    need_rank,
    numel,
)
from archspec.layers.costs import Product
from archspec.shapes import Dim, Sym, TensorType, add, floordiv, mul, prod, tensor

__all__ = [
    "ArchspecError",
    "Dim",
    "LayerParams",
    "LayerType",
    "Product",
    "Shape",
    "ShapeError",
    "Sym",
    "TensorType",
    "TorchCtor",
    "TorchFn",
    "add",
    "costs",
    "floordiv",
    "get_layer",
    "mul",
    "need_float",
    "need_int",
    "need_rank",
    "numel",
    "prod",
    "register_layer",
    "registry",
    "tensor",
]
