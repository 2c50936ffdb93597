"""Regularization layers (active in training only)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from archspec.layers import register_layer
from archspec.layers.base import LayerParams, LayerType, TorchCtor, need_float
from archspec.layers.memory import Kept, MemCtx, Memory, dropout_kept
from archspec.shapes import TensorType, tensor


@register_layer
class Dropout(LayerType):
    """Zero each element with probability ``p`` in training, scaling the rest by 1/(1-p).

    Keeps the shape; an identity at inference (``nn.Dropout``).
    """

    name = "dropout"
    family = "regularize"
    primary = "p"

    class Params(LayerParams):
        p: float = Field(0.5, ge=0, le=1)

    examples = [({}, [tensor("batch", 6)]), ({"p": 0.1}, [tensor("batch", "seq", 4)])]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        need_float(xs[0], cls.name)
        return xs[0]

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        if p.p == 0:  # torch returns the input itself
            return Memory(views={"out": "in0"})
        return Memory(keep=dropout_kept("dropout", c.ins[0], p.p, c))

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor("nn.Dropout", {"p": p.p})

    @classmethod
    def label(cls, p: Params) -> str:
        return f"Dropout {p.p:g}"


@register_layer
class DropPath(LayerType):
    """Stochastic depth (Huang et al., 2016; torchvision's ``StochasticDepth``): in training, zero
    the whole input with probability ``p`` and scale what survives by 1/(1-p); the identity at
    inference. Put it on a residual branch, before the add.

    ``mode: row`` (the default) draws once per sample (each sample's branch is dropped on its
    own); ``mode: batch`` draws once for the whole batch. Keeps the shape.
    """

    name = "drop_path"
    family = "regularize"
    primary = "p"

    class Params(LayerParams):
        torch_names = {"drop_prob": "p"}
        p: float = Field(ge=0, le=1)
        mode: Literal["row", "batch"] = "row"

    examples = [
        ({"p": 0.1}, [tensor("batch", 4, "h", "w")]),
        ({"p": 0.5, "mode": "batch"}, [tensor("batch", "seq", 6)]),
    ]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        need_float(xs[0], cls.name)
        return xs[0]

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        if p.p == 0:  # the input itself is returned
            return Memory(views={"out": "in0"})
        x = c.ins[0]  # the scaled noise: one value per sample (row) or one for the batch
        noise = (x[0], *(1,) * (len(x) - 1)) if p.mode == "row" else (1,) * len(x)
        return Memory(keep=(Kept("drop_path.noise", noise),))

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor("regularize.StochasticDepth", {"p": p.p, "mode": p.mode})

    @classmethod
    def label(cls, p: Params) -> str:
        return f"DropPath {p.p:g}" + (" (batch)" if p.mode == "batch" else "")
