"""Tensors as nodes: learnable parameters (a class token, position embeddings, layer scale) and
constant buffers (a causal mask, positions). Such a node has no inputs; its module holds it as
an attribute named after the node, so its state_dict key is the node's path
(``encoder.pos_embedding``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, model_validator

from archspec.layers import register_layer
from archspec.layers.base import LayerParams, LayerType, Shape, ShapeError, TorchTensor
from archspec.shapes import TensorType

FLOAT = Literal["float32", "float16", "bfloat16", "float64"]


@register_layer
class Parameter(LayerType):
    """A learnable tensor of a given ``shape`` (``nn.Parameter``): a class token, learned position
    embeddings, a layer scale, learnable queries, a logit scale.

    ``shape: []`` is a 0-d scalar (CLIP's ``logit_scale``). It starts as ``zeros`` unless the
    entry's ``init:`` says otherwise (``init: {normal: {std: 0.02}}``, ``init: {constant: {val:
    1.0e-6}}``); ``trainable: false`` freezes it. Counted in the model's parameters; its
    state_dict key is the node's path.
    """

    name = "parameter"
    family = "tensor"
    primary = "shape"
    min_inputs = 0
    max_inputs = 0

    class Params(LayerParams):
        shape: list[PositiveInt] = Field(min_length=0)
        dtype: FLOAT = "float32"

    examples = [({"shape": [1, 1, 8]}, []), ({"shape": [4], "dtype": "float64"}, []), ({"shape": []}, [])]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        return TensorType(tuple(p.shape), p.dtype)

    @classmethod
    def weights(cls, p: Params, xs: list[TensorType]) -> dict[str, Shape]:
        return {"": tuple(p.shape)}  # "": the node itself is the parameter

    @classmethod
    def tensor(cls, p: Params) -> TorchTensor:
        return TorchTensor(tuple(p.shape), fill="zeros", dtype=p.dtype)

    @classmethod
    def label(cls, p: Params) -> str:
        return f"Parameter {list(p.shape)}"


@register_layer
class Buffer(LayerType):
    """A constant tensor the module keeps (a buffer: moved with the module, not trained).

    ``fill`` is ``zeros``, ``ones`` or ``arange`` (0 .. size-1) for a tensor of ``shape``, or
    ``causal_mask``: the ``[size, size]`` booleans a causal attention uses (True where query i may
    see key j <= i). ``persistent: false`` keeps it out of the state_dict (as torch does for
    values it can recompute).
    """

    name = "buffer"
    family = "tensor"
    primary = "fill"
    min_inputs = 0
    max_inputs = 0

    class Params(LayerParams):
        fill: Literal["zeros", "ones", "arange", "causal_mask"] = "zeros"
        shape: list[PositiveInt] | None = None
        size: PositiveInt | None = None
        persistent: bool = True

        @model_validator(mode="after")
        def _sized(self) -> Buffer.Params:
            if self.fill in ("arange", "causal_mask"):
                if self.size is None or self.shape is not None:
                    raise ValueError(f"fill '{self.fill}' takes `size`, not `shape`")
            elif self.shape is None or self.size is not None:
                raise ValueError(f"fill '{self.fill}' takes `shape`, not `size`")
            return self

    examples = [
        ({"fill": "causal_mask", "size": 5}, []),
        ({"fill": "ones", "shape": [2, 3]}, []),
        ({"fill": "arange", "size": 7, "persistent": False}, []),
    ]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        if p.fill == "causal_mask":
            assert p.size is not None
            return TensorType((p.size, p.size), "bool")
        if p.fill == "arange":
            assert p.size is not None
            return TensorType((p.size,), "int64")
        if p.shape is None:  # pragma: no cover - the validator requires it
            raise ShapeError("a buffer needs a shape")
        return TensorType(tuple(p.shape), "float32")

    @classmethod
    def buffers(cls, p: Params, xs: list[TensorType]) -> dict[str, Shape]:
        t = cls.infer(p, xs)
        return {"": tuple(d for d in t.shape if isinstance(d, int))}

    @classmethod
    def tensor(cls, p: Params) -> TorchTensor:
        t = cls.infer(p, [])
        shape = tuple(d for d in t.shape if isinstance(d, int))
        if p.fill in ("zeros", "ones"):
            return TorchTensor(shape, buffer=True, persistent=p.persistent, fill=p.fill, dtype=t.dtype)
        return TorchTensor(
            shape, buffer=True, persistent=p.persistent, fill=p.fill, kwargs={"size": p.size}, dtype=t.dtype
        )

    @classmethod
    def label(cls, p: Params) -> str:
        return f"Buffer {p.fill}" + (f" {p.size}" if p.size else f" {p.shape}")
