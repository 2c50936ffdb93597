"""archspec: a declarative architecture-spec compiler for neural networks.

``load`` a YAML/JSON spec, ``analyze`` it (shapes and counts, no torch), ``build`` a
PyTorch module, ``export_onnx`` it, or render it as a diagram. torch, onnx and graphviz
are imported only when those functions are called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from archspec.errors import ArchspecError
from archspec.layers import LayerParams, LayerType, register_layer
from archspec.passes import Analysis, analyze
from archspec.spec import Spec, load

__all__ = [
    "Analysis",
    "ArchspecError",
    "LayerParams",
    "LayerType",
    "Spec",
    "analyze",
    "build",
    "example_inputs",
    "export_onnx",
    "load",
    "register_layer",
]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from archspec.backends.torch_build import build, example_inputs
    from archspec.backends.onnx_export import export_onnx


def __getattr__(name: str) -> Any:
    """Import the torch/onnx entry points lazily, so ``import archspec`` stays light."""
    if name in ("build", "example_inputs"):
        from archspec.backends import torch_build

        return getattr(torch_build, name)
    if name == "export_onnx":
        from archspec.backends import onnx_export

        return onnx_export.export_onnx
    raise AttributeError(f"module 'archspec' has no attribute {name!r}")
