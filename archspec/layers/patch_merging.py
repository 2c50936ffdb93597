"""Swin Transformer's patch merging (Liu et al., 2021), torchvision's ``PatchMerging``: the
downsampling between stages of a channels-last map (the vision family)."""

from __future__ import annotations

from pydantic import PositiveFloat, PositiveInt

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
from archspec.shapes import TensorType, ceil_div, tensor


@register_layer
class PatchMerging(LayerType):
    """Halve a channels-last map ``[batch, h, w, c]`` to ``[batch, ceil(h/2), ceil(w/2), out]``
    as torchvision's ``PatchMerging`` (Swin V1): zero-pad h and w to even, concatenate each 2x2
    neighbourhood's channels in the order (0, 0), (1, 0), (0, 1), (1, 1) (row, column offsets)
    to 4c, ``norm`` (LayerNorm(4c), ``eps``), then ``reduction`` (Linear(4c, out), no bias;
    ``out`` defaults to 2c). Parameters as torchvision names and orders them:
    ``reduction.weight`` [out, 4c], ``norm.weight`` [4c], ``norm.bias`` [4c]."""

    name = "patch_merging"
    family = "vision"
    primary = "out"

    class Params(LayerParams):
        torch_names = {"dim": None, "norm_layer": "eps"}
        out: PositiveInt | None = None
        eps: PositiveFloat = 1e-5

    examples = [
        ({}, [tensor("batch", "h", "w", 4)]),
        ({"out": 6, "eps": 1e-6}, [tensor("batch", 5, 7, 3)]),
    ]

    @classmethod
    def _channels(cls, p: Params, x: TensorType) -> tuple[int, int]:
        hint = "it takes a channels-last map [batch, h, w, c]: `permute: [0, 2, 3, 1]` a conv's output"
        need_rank(x, (4,), cls.name, hint=hint)
        need_float(x, cls.name)
        c = need_int(x.shape[3], f"the channels (dim 3) of {cls.name}")
        return c, p.out or 2 * c

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        _, out = cls._channels(p, x)
        return x.with_shape((x.shape[0], ceil_div(x.shape[1], 2), ceil_div(x.shape[2], 2), out))

    @classmethod
    def weights(cls, p: Params, xs: list[TensorType]) -> dict[str, Shape]:
        c, out = cls._channels(p, xs[0])
        return {"reduction.weight": (out, 4 * c), "norm.weight": (4 * c,), "norm.bias": (4 * c,)}

    @classmethod
    def penalized(cls, p: Params, xs: list[TensorType]) -> tuple[str, ...]:
        return ("reduction.weight",)

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        # the layer norm keeps the concatenated map and its statistics; the reduction, when it
        # trains, the normalized map
        b, h, w, _ = c.out
        merged = (b, h, w, 4 * c.ins[0][3])
        stats = (b, h, w, 1)
        kept = [Kept("merged", merged), Kept("mean", stats, "stat"), Kept("rstd", stats, "stat")]
        if c.trains:
            kept.append(Kept("normed", merged))
        return Memory(keep=tuple(kept))

    @classmethod
    def products(cls, p: Params, xs: list[Shape], out: Shape) -> list[Product]:
        rows, c = numel(out) // out[3], xs[0][3]
        return [Product(costs.linear(rows, 4 * c, out[3]), costs.INNER, "reduction.weight")]

    @classmethod
    def other_flops(cls, p: Params, xs: list[Shape], out: Shape) -> int:
        merged = numel(out) // out[3] * 4 * xs[0][3]
        return costs.layer_norm(merged, weight=True, bias=True)

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        c, out = cls._channels(p, xs[0])
        return TorchCtor("swin.PatchMerging", {"dim": c, "out": out, "eps": p.eps})

    @classmethod
    def label(cls, p: Params) -> str:
        return "PatchMerging 2×2" + (f" → {p.out}" if p.out else "")
