"""Hugging Face's ``Conv1D``: a linear layer whose weight is stored [in, out] (GPT-2's projections)."""

from __future__ import annotations

from pydantic import PositiveInt

from archspec.layers import costs, register_layer
from archspec.layers.base import (
    LayerParams,
    LayerType,
    Shape,
    TorchCtor,
    need_float,
    need_int,
    need_rank,
    numel,
)
from archspec.layers.costs import Product
from archspec.layers.memory import Kept, MemCtx, Memory
from archspec.shapes import TensorType, tensor


@register_layer
class HfConv1d(LayerType):
    """Hugging Face's ``Conv1D`` (GPT-2, GPT-J's ancestors): ``y = x W + b`` on the last dim, with
    ``weight`` stored ``[in, out]``, the transpose of ``linear``'s ``[out, in]``; ``bias [out]``.

    The same computation, count and cost as ``linear``; only the stored layout differs, so that
    ``GPT2LMHeadModel``'s ``c_attn``, ``c_proj`` and ``c_fc`` weights load unchanged. Despite the
    name it is not a convolution over positions (``conv1d`` is). Starts as HF's: weight normal
    with std 0.02, bias zeros.
    """

    name = "hf_conv1d"
    family = "linear"
    primary = "out"

    class Params(LayerParams):
        torch_names = {"nf": "out", "nx": None, "out_features": "out", "in_features": None}
        out: PositiveInt
        bias: bool = True

    examples = [
        ({"out": 12}, [tensor("batch", "seq", 4)]),
        ({"out": 3, "bias": False}, [tensor("batch", 5)]),
    ]

    @classmethod
    def fan_in(cls, xs: list[TensorType]) -> int:
        return need_int(xs[0].shape[-1], "the input features of hf_conv1d")

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        need_float(x, cls.name)
        if x.rank not in (2, 3):
            need_rank(x, (2, 3), cls.name, hint="add a `flatten` before it (it acts on the last dimension)")
        cls.fan_in(xs)
        return x.with_shape((*x.shape[:-1], p.out))

    @classmethod
    def weights(cls, p: Params, xs: list[TensorType]) -> dict[str, Shape]:
        w: dict[str, Shape] = {"weight": (cls.fan_in(xs), p.out)}
        if p.bias:
            w["bias"] = (p.out,)
        return w

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        # the matmul keeps its input (a [-1, in] view of it) for the weight's gradient
        return Memory(keep=(Kept("in0"),) if c.trains else ())

    @classmethod
    def penalized(cls, p: Params, xs: list[TensorType]) -> tuple[str, ...]:
        return ("weight",)

    @classmethod
    def products(cls, p: Params, xs: list[Shape], out: Shape) -> list[Product]:
        rows = numel(out) // p.out
        return [Product(costs.linear(rows, xs[0][-1], p.out), costs.arg(0), "weight")]

    @classmethod
    def other_flops(cls, p: Params, xs: list[Shape], out: Shape) -> int:
        return costs.bias(numel(out), p.bias)

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor("hf.Conv1D", {"in_features": cls.fan_in(xs), "out_features": p.out, "bias": p.bias})

    @classmethod
    def label(cls, p: Params) -> str:
        return f"Conv1D (HF) → {p.out}" + ("" if p.bias else " (no bias)")

    @classmethod
    def display_name(cls) -> str:
        return "Conv1D (HF)"
