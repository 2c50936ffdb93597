"""The `swiglu` layer: W2 (silu(W1 x) * W3 x), the feed-forward of LLaMA-style transformers.

A plugin layer is an ordinary registered LayerType: static rules here (no torch import at
module level), the torch module in ``modules.py``.
"""

from __future__ import annotations

from pydantic import PositiveInt

from archspec.plugin import (
    LayerParams,
    LayerType,
    Product,
    Shape,
    TensorType,
    TorchCtor,
    costs,
    need_float,
    need_int,
    numel,
    register_layer,
    tensor,
)


@register_layer
class SwiGLU(LayerType):
    """SwiGLU feed-forward: ``w2(silu(w1(x)) * w3(x))`` over the last dimension, no biases."""

    name = "swiglu"
    family = "plugin"
    primary = "hidden"

    class Params(LayerParams):
        hidden: PositiveInt

    examples = [({"hidden": 8}, [tensor("batch", "seq", 6)])]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        need_float(xs[0], "swiglu")
        need_int(xs[0].shape[-1], "the input features of swiglu")
        return xs[0]

    @classmethod
    def weights(cls, p: Params, xs: list[TensorType]) -> dict[str, Shape]:
        d = need_int(xs[0].shape[-1], "the input features of swiglu")
        return {"w1.weight": (p.hidden, d), "w2.weight": (d, p.hidden), "w3.weight": (p.hidden, d)}

    @classmethod
    def penalized(cls, p: Params, xs: list[TensorType]) -> tuple[str, ...]:
        return ("w1.weight", "w2.weight", "w3.weight")  # its three projections (it has no biases)

    @classmethod
    def products(cls, p: Params, xs: list[Shape], out: Shape) -> list[Product]:
        """w1 and w3 multiply the input; w2 multiplies a value computed inside (its MACs: the sum)."""
        rows, d = numel(out) // out[-1], out[-1]
        return [
            Product(costs.linear(rows, d, p.hidden), costs.arg(0), "w1.weight"),
            Product(costs.linear(rows, d, p.hidden), costs.arg(0), "w3.weight"),
            Product(costs.linear(rows, p.hidden, d), costs.INNER, "w2.weight"),
        ]

    @classmethod
    def other_flops(cls, p: Params, xs: list[Shape], out: Shape) -> int:
        rows = numel(out) // out[-1]
        return costs.elementwise(rows * p.hidden, 2)  # the silu and the product

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        from archspec_swiglu.modules import SwiGLUModule

        d = need_int(xs[0].shape[-1], "the input features of swiglu")
        return TorchCtor.of(SwiGLUModule, {"dim": d, "hidden": p.hidden})

    @classmethod
    def label(cls, p: Params) -> str:
        return f"SwiGLU → {p.hidden}"
