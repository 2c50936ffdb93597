"""Normalization: batch norm over channels, layer norm over the last dims or one dim, group and
instance norm over the channels of a map."""

from __future__ import annotations

from pydantic import Field, PositiveFloat, PositiveInt, model_validator

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
    """Layer normalization over the last ``dims`` dims (``nn.LayerNorm``), or over one ``dim``.

    ``dims: 1`` (the default) normalizes each feature vector of [batch, ..., features];
    ``dims: 2`` the last two dims together. ``dim: 1`` normalizes dim 1 alone: the channels
    of a [batch, C, h, w] map at every position (ConvNeXt's LayerNorm2d), with no permutes
    written. The normalized dims must be known sizes and cannot include the batch dim. With
    ``elementwise_affine`` it learns ``weight`` (and ``bias``, unless ``bias: false``) of the
    normalized shape.
    """

    name = "layer_norm"
    family = "norm"

    class Params(LayerParams):
        dims: PositiveInt = 1
        dim: int | None = None
        eps: PositiveFloat = 1e-5
        elementwise_affine: bool = True
        bias: bool = True

        @model_validator(mode="after")
        def _one_way(self) -> LayerNorm.Params:
            if self.dim is not None and "dims" in self.model_fields_set:
                raise ValueError("give `dim` (one dim to normalize) or `dims` (the last N dims), not both")
            return self

    examples = [
        ({}, [tensor("batch", "seq", 8)]),
        ({"dims": 2, "bias": False}, [tensor("batch", 3, 4)]),
        ({"eps": 1e-6, "elementwise_affine": False}, [tensor("batch", 5)]),
        ({"dim": 1, "eps": 1e-6}, [tensor("batch", 6, "h", "w")]),
        ({"dim": -2, "bias": False}, [tensor("batch", 3, "seq")]),
        ({"dim": -1}, [tensor("batch", "seq", 4)]),
    ]

    @classmethod
    def axis(cls, p: Params, x: TensorType) -> int | None:
        """The one dim ``dim`` normalizes, made non-negative (None: the last ``dims`` dims)."""
        if p.dim is None:
            return None
        if not -x.rank <= p.dim < x.rank:
            raise ShapeError(
                f"dim {p.dim} is out of range for a {x.rank}-D input",
                expected=f"dim in [{-x.rank}, {x.rank - 1}]",
                got=str(p.dim),
            )
        d = p.dim % x.rank
        if d == 0:
            raise ShapeError(
                "layer_norm cannot normalize the batch dim 0",
                expected="dim 1 (channels) or later",
                got=f"dim {p.dim} of {x}",
                hint="batch_norm normalizes over the batch",
            )
        return d

    @classmethod
    def normalized(cls, p: Params, x: TensorType) -> tuple[int, ...]:
        d = cls.axis(p, x)
        if d is not None:
            return (need_int(x.shape[d], "the dim that layer_norm normalizes"),)
        if p.dims >= x.rank:
            raise ShapeError(
                f"cannot normalize the last {p.dims} dims of a {x.rank}-D input (the batch dim stays)",
                expected=f"dims ≤ {x.rank - 1}",
                got=f"dims {p.dims} for {x}",
            )
        hint = (
            "layer_norm normalizes the last dims; for the channels of a [batch, C, ...] map write "
            "`layer_norm: {dim: 1}`"
            if x.rank >= 3 and isinstance(x.shape[1], int)
            else None
        )
        return tuple(need_int(d, "a dim that layer_norm normalizes", hint) for d in x.shape[-p.dims :])

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
        # the input, and the mean and reciprocal std of each normalized slice (one per position
        # of the other dims when `dim` normalizes one dim: the input moved, a view, is saved)
        x = c.ins[0]
        if p.dim is not None:
            stats = tuple(1 if i == p.dim % len(x) else s for i, s in enumerate(x))
        else:
            stats = (*x[: -p.dims], *(1,) * p.dims)
        return Memory(keep=(Kept("in0"), Kept("mean", stats, "stat"), Kept("rstd", stats, "stat")))

    @classmethod
    def other_flops(cls, p: Params, xs: list[Shape], out: Shape) -> int:
        affine = p.elementwise_affine
        return costs.layer_norm(numel(out), weight=affine, bias=affine and p.bias)

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        kwargs = {
            "normalized_shape": cls.normalized(p, xs[0]),
            "eps": p.eps,
            "elementwise_affine": p.elementwise_affine,
            "bias": p.bias,
        }
        d = cls.axis(p, xs[0])
        if d is None or d == xs[0].rank - 1:
            return TorchCtor("nn.LayerNorm", kwargs)
        return TorchCtor("norm.LayerNormDim", {**kwargs, "dim": d})

    @classmethod
    def label(cls, p: Params) -> str:
        if p.dim is not None:
            return f"LayerNorm (dim {p.dim})"
        return "LayerNorm" + (f" (last {p.dims} dims)" if p.dims > 1 else "")


def _channels(name: str, x: TensorType, ranks: tuple[int, ...], layout: str) -> int:
    need_float(x, name)
    need_rank(x, ranks, name, hint=f"{name} normalizes the channels of {layout}")
    return need_int(x.shape[1], f"the channels of {name}")


@register_layer
class GroupNorm(LayerType):
    """Group normalization (``nn.GroupNorm``): the channels of [batch, C, *spatial] split into
    ``groups`` groups, each normalized over its channels and every position, per sample.

    ``groups`` must divide C (C known); ``groups: 1`` normalizes all of a sample at once,
    ``groups`` = C each channel alone. With ``affine`` (the default) it learns a per-channel
    ``weight [C]`` and ``bias [C]``. Batch-size independent, unlike ``batch_norm``.
    """

    name = "group_norm"
    family = "norm"
    primary = "groups"

    class Params(LayerParams):
        torch_names = {"num_groups": "groups", "num_channels": None}
        groups: PositiveInt
        eps: PositiveFloat = 1e-5
        affine: bool = True

    examples = [
        ({"groups": 2}, [tensor("batch", 6, "h", "w")]),
        ({"groups": 1, "affine": False}, [tensor("batch", 4, "seq")]),
        ({"groups": 4, "eps": 1e-6}, [tensor("batch", 8)]),
    ]

    @classmethod
    def channels(cls, p: Params, x: TensorType) -> int:
        c = _channels(cls.name, x, (2, 3, 4, 5), "[batch, C, *spatial]")
        if c % p.groups:
            divisors = [g for g in range(1, c + 1) if c % g == 0]
            near = sorted(divisors, key=lambda g: abs(g - p.groups))[:2]
            raise ShapeError(
                f"groups ({p.groups}) does not divide the {c} channels",
                expected=f"groups dividing {c}",
                got=f"groups {p.groups}",
                hint=f"use a divisor of {c}, e.g. " + " or ".join(map(str, sorted(near))),
            )
        return c

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        cls.channels(p, xs[0])
        return xs[0]

    @classmethod
    def weights(cls, p: Params, xs: list[TensorType]) -> dict[str, Shape]:
        c = cls.channels(p, xs[0])
        return {"weight": (c,), "bias": (c,)} if p.affine else {}

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        # the input, and the mean and reciprocal std of each group of each sample
        stats = (c.ins[0][0], p.groups)
        return Memory(keep=(Kept("in0"), Kept("mean", stats, "stat"), Kept("rstd", stats, "stat")))

    @classmethod
    def other_flops(cls, p: Params, xs: list[Shape], out: Shape) -> int:
        return costs.layer_norm(numel(out), weight=p.affine, bias=p.affine)  # statistics per group

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        c = cls.channels(p, xs[0])
        return TorchCtor(
            "nn.GroupNorm", {"num_groups": p.groups, "num_channels": c, "eps": p.eps, "affine": p.affine}
        )

    @classmethod
    def label(cls, p: Params) -> str:
        return f"GroupNorm {p.groups} groups"


@register_layer
class InstanceNorm(LayerType):
    """Instance normalization: each channel of each sample normalized over its positions
    (``nn.InstanceNorm1d/2d/3d`` for [batch, C, length], [batch, C, h, w], [batch, C, d, h, w]).

    As torch, by default it learns nothing and keeps no statistics; ``affine: true`` learns
    ``weight [C]`` and ``bias [C]``, and ``track_running_stats: true`` keeps the buffers
    ``running_mean``, ``running_var`` and ``num_batches_tracked`` (updated with ``momentum``)
    and uses them at inference. C must be known.
    """

    name = "instance_norm"
    family = "norm"

    class Params(LayerParams):
        torch_names = {"num_features": None}
        eps: PositiveFloat = 1e-5
        momentum: float = Field(0.1, ge=0, le=1)
        affine: bool = False
        track_running_stats: bool = False

    examples = [
        ({}, [tensor("batch", 3, "h", "w")]),
        ({"affine": True}, [tensor("batch", 4, "seq")]),
        ({"affine": True, "track_running_stats": True, "momentum": 0.01}, [tensor("batch", 2, 5, "h", "w")]),
    ]

    @classmethod
    def channels(cls, x: TensorType) -> int:
        layouts = "[batch, C, length], [batch, C, h, w] or [batch, C, d, h, w]"
        return _channels(cls.name, x, (3, 4, 5), layouts)

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        cls.channels(xs[0])
        return xs[0]

    @classmethod
    def weights(cls, p: Params, xs: list[TensorType]) -> dict[str, Shape]:
        c = cls.channels(xs[0])
        return {"weight": (c,), "bias": (c,)} if p.affine else {}

    @classmethod
    def buffers(cls, p: Params, xs: list[TensorType]) -> dict[str, Shape]:
        if not p.track_running_stats:
            return {}
        c = cls.channels(xs[0])
        return {"running_mean": (c,), "running_var": (c,), "num_batches_tracked": ()}

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        # torch runs batch norm on the input viewed as [1, N·C, ...]: it saves that view, the
        # statistics of each of the N·C planes, and the affine weight and the running statistics
        # repeated N times
        planes = (c.ins[0][0] * c.ins[0][1],)
        repeated = (["weight"] if p.affine else []) + (
            ["running_mean", "running_var"] if p.track_running_stats else []
        )
        kept = [Kept(f"{name}.repeated", planes) for name in repeated]
        stats = [Kept("mean", planes, "stat"), Kept("invstd", planes, "stat")]
        return Memory(keep=(Kept("in0"), *kept, *stats))

    @classmethod
    def other_flops(cls, p: Params, xs: list[Shape], out: Shape) -> int:
        if p.track_running_stats:  # at inference the running statistics fold like batch norm's
            return costs.batch_norm(numel(out))
        return costs.layer_norm(numel(out), weight=p.affine, bias=p.affine)

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor(
            f"nn.InstanceNorm{xs[0].rank - 2}d",
            {
                "num_features": cls.channels(xs[0]),
                "eps": p.eps,
                "momentum": p.momentum,
                "affine": p.affine,
                "track_running_stats": p.track_running_stats,
            },
        )

    @classmethod
    def label(cls, p: Params) -> str:
        return "InstanceNorm" + (" (affine)" if p.affine else "")
