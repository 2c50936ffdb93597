"""archspec: a declarative architecture-spec compiler for neural networks.

``load`` a YAML/JSON spec, ``analyze`` it (shapes and counts, no torch), ``plan`` its
training (memory per GPU, FLOPs, step time; no torch), ``build`` a PyTorch module, ``shard``
it with FSDP2 per block, ``export_onnx`` it, or render it as a diagram. Every name is imported
on first use, so ``import archspec`` (and ``archspec --help``) stays instant, and torch,
onnx and graphviz load only when a function needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "Analysis",
    "ArchspecError",
    "LayerParams",
    "LayerType",
    "Spec",
    "analyze",
    "build",
    "diagram",
    "example_inputs",
    "export_onnx",
    "load",
    "load_text",
    "plan",
    "register_layer",
    "shard",
]
__version__ = "0.1.0"

_WHERE = {
    "Analysis": "archspec.passes",
    "analyze": "archspec.pipeline",
    "ArchspecError": "archspec.errors",
    "LayerParams": "archspec.layers",
    "LayerType": "archspec.layers",
    "register_layer": "archspec.layers",
    "Spec": "archspec.spec",
    "load": "archspec.pipeline",
    "load_text": "archspec.pipeline",
    "build": "archspec.backends.torch",
    "example_inputs": "archspec.backends.torch.builder",
    "export_onnx": "archspec.backends.onnx",
    "diagram": "archspec.backends.notebook",
    "plan": "archspec.planner",
    "shard": "archspec.planner",
}

if TYPE_CHECKING:
    from archspec.backends.notebook import diagram
    from archspec.backends.onnx import export_onnx
    from archspec.backends.torch import build
    from archspec.backends.torch.builder import example_inputs
    from archspec.errors import ArchspecError
    from archspec.layers import LayerParams, LayerType, register_layer
    from archspec.passes import Analysis
    from archspec.pipeline import analyze, load, load_text
    from archspec.planner import plan, shard
    from archspec.spec import Spec


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'archspec' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
