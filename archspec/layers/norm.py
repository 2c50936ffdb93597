"""Normalization: batch norm over channels, layer norm over the last dims."""

from __future__ import annotations

from pydantic import Field, PositiveFloat, PositiveInt

from archspec.layers import costs, register_layer
from archspec.layers.base import (
    LayerParams,
    LayerType,
    Shape,
    ShapeError,
    TorchCtor,
    need_float,
    need_int,
    need_rank,
    numel,
)
from archspec.layers.memory import Kept, MemCtx, Memory
from archspec.shapes import TensorType, tensor


@register_layer
class BatchNorm(LayerType):
    """Batch normalization of the channel dim 1, with learned scale and shift.

    Takes [batch, C] or [batch, C, length] (``nn.BatchNorm1d``) or [batch, C, h, w]
    (``nn.BatchNorm2d``); C must be known. Besides ``weight`` and ``bias`` (when
    ``affine``) it keeps the buffers ``running_mean``, ``running_var`` and
    ``num_batches_tracked``, reported apart from parameters.
    """

    name = "batch_norm"
    family = "norm"

    class Params(LayerParams):
        torch_names = {"num_features": None}
        eps: PositiveFloat = 1e-5
        momentum: float = Field(0.1, ge=0, le=1)
        affine: bool = True

    examples = [
        ({}, [tensor("batch", 6)]),
        ({"momentum": 0.01}, [tensor("batch", 4, "seq")]),
        ({"eps": 1e-3, "affine": False}, [tensor("batch", 3, "h", "w")]),
    ]

    @classmethod
    def channels(cls, x: TensorType) -> int:
        return need_int(x.shape[1], "the channels of batch_norm")

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        need_float(x, cls.name)
        need_rank(
            x,
            (2, 3, 4),
            cls.name,
            hint="batch_norm normalizes dim 1 of [batch, C], [batch, C, length] or [batch, C, h, w]",
        )
        cls.channels(x)
        return x

    @classmethod
    def weights(cls, p: Params, xs: list[TensorType]) -> dict[str, Shape]:
        c = cls.channels(xs[0])
        return {"weight": (c,), "bias": (c,)} if p.affine else {}

    @classmethod
    def buffers(cls, p: Params, xs: list[TensorType]) -> dict[str, Shape]:
        c = cls.channels(xs[0])
        return {"running_mean": (c,), "running_var": (c,), "num_batches_tracked": ()}

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        # training: the input and the batch's mean and inverse std per channel
        ch = (c.ins[0][1],)
        return Memory(keep=(Kept("in0"), Kept("mean", ch, "stat"), Kept("invstd", ch, "stat")))

    @classmethod
    def other_flops(cls, p: Params, xs: list[Shape], out: Shape) -> int:
        return costs.batch_norm(numel(out))

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor(
            "nn.BatchNorm2d" if xs[0].rank == 4 else "nn.BatchNorm1d",
            {"num_features": cls.channels(xs[0]), "eps": p.eps, "momentum": p.momentum, "affine": p.affine},
        )


@register_layer
class LayerNorm(LayerType):
    """Layer normalization over the last ``dims`` dims (``nn.LayerNorm``).

    ``dims: 1`` (the default) normalizes each feature vector of [batch, ..., features];
    the normalized dims must be known sizes and cannot include the batch dim. With
    ``elementwise_affine`` it learns ``weight`` (and ``bias``, unless ``bias: false``)
    of the normalized shape.
    """

    name = "layer_norm"
    family = "norm"

    class Params(LayerParams):
        dims: PositiveInt = 1
        eps: PositiveFloat = 1e-5
        elementwise_affine: bool = True
        bias: bool = True

    examples = [
        ({}, [tensor("batch", "seq", 8)]),
        ({"dims": 2, "bias": False}, [tensor("batch", 3, 4)]),
        ({"eps": 1e-6, "elementwise_affine": False}, [tensor("batch", 5)]),
    ]

    @classmethod
    def normalized(cls, p: Params, x: TensorType) -> tuple[int, ...]:
        if p.dims >= x.rank:
            raise ShapeError(
                f"cannot normalize the last {p.dims} dims of a {x.rank}-D input (the batch dim stays)",
                expected=f"dims ≤ {x.rank - 1}",
                got=f"dims {p.dims} for {x}",
            )
        return tuple(need_int(d, "a dim that layer_norm normalizes") for d in x.shape[-p.dims :])

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        need_float(xs[0], cls.name)
        cls.normalized(p, xs[0])
        return xs[0]

    @classmethod
    def weights(cls, p: Params, xs: list[TensorType]) -> dict[str, Shape]:
        if not p.elementwise_affine:
            return {}
        shape = cls.normalized(p, xs[0])
        return {"weight": shape, "bias": shape} if p.bias else {"weight": shape}

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        # the input, and the mean and reciprocal std of each normalized slice
        stats = (*c.ins[0][: -p.dims], *(1,) * p.dims)
        return Memory(keep=(Kept("in0"), Kept("mean", stats, "stat"), Kept("rstd", stats, "stat")))

    @classmethod
    def other_flops(cls, p: Params, xs: list[Shape], out: Shape) -> int:
        affine = p.elementwise_affine
        return costs.layer_norm(numel(out), weight=affine, bias=affine and p.bias)

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor(
            "nn.LayerNorm",
            {
                "normalized_shape": cls.normalized(p, xs[0]),
                "eps": p.eps,
                "elementwise_affine": p.elementwise_affine,
                "bias": p.bias,
            },
        )

    @classmethod
    def label(cls, p: Params) -> str:
        return "LayerNorm" + (f" (last {p.dims} dims)" if p.dims > 1 else "")
