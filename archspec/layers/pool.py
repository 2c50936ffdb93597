"""Pooling: max and average windows, adaptive and global average."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import NonNegativeInt, PositiveInt

from archspec.layers import costs, register_layer
from archspec.layers.base import (
    LayerType,
    Shape,
    ShapeError,
    TorchCtor,
    need_float,
    need_rank,
    numel,
)
from archspec.layers.conv import SpatialParams, fmt_size, per_dim, spatial_out, torch_arg
from archspec.layers.memory import Kept, MemCtx, Memory
from archspec.shapes import TensorType, tensor


def _need_spatial(name: str, x: TensorType, ndim: int) -> None:
    need_float(x, name)
    layout = "[batch, channels, length]" if ndim == 1 else "[batch, channels, h, w]"
    need_rank(x, (ndim + 2,), name, hint=f"{name} takes {layout}")


class _PoolParams(SpatialParams):
    spatial = ("kernel", "stride", "padding")

    kernel: PositiveInt | list[PositiveInt]
    stride: PositiveInt | list[PositiveInt] | None = None  # None: the kernel
    padding: NonNegativeInt | list[NonNegativeInt] = 0
    ceil_mode: bool = False


class _Pool(LayerType):
    """A max or average window sliding over the spatial dims of [N, C, *spatial]."""

    family = "pool"
    primary = "kernel"
    ndim: ClassVar[int]
    averages: ClassVar[bool]

    @classmethod
    def stride(cls, p: _PoolParams) -> tuple[int, ...]:
        return per_dim(p.kernel if p.stride is None else p.stride, cls.ndim)

    @classmethod
    def infer(cls, p: _PoolParams, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        _need_spatial(cls.name, x, cls.ndim)
        kernel, padding = per_dim(p.kernel, cls.ndim), per_dim(p.padding, cls.ndim)
        if any(2 * pad > k for k, pad in zip(kernel, padding, strict=True)):
            raise ShapeError(
                "padding is more than half the kernel (torch refuses it)",
                expected=f"padding ≤ kernel / 2 (kernel {p.kernel})",
                got=f"padding {p.padding}",
                hint="lower the padding or enlarge the kernel",
                code="bad-value",
            )
        spatial = spatial_out(x, kernel, cls.stride(p), padding, ceil=p.ceil_mode)
        return x.with_shape((*x.shape[:2], *spatial))

    @classmethod
    def memory(cls, p: _PoolParams, c: MemCtx) -> Memory:
        # the input; a max also keeps the argmax of each window (int64, the output's shape)
        indices = None if cls.averages else Kept("indices", c.out, "int64")
        return Memory(keep=tuple(k for k in (Kept("in0"), indices) if k is not None))

    @classmethod
    def other_flops(cls, p: _PoolParams, xs: list[Shape], out: Shape) -> int:
        return costs.window(numel(out), numel(per_dim(p.kernel, cls.ndim)), average=cls.averages)

    @classmethod
    def torch(cls, p: _PoolParams, xs: list[TensorType]) -> TorchCtor:
        kwargs = {"kernel_size": torch_arg(p.kernel)}
        if p.stride is not None:
            kwargs["stride"] = torch_arg(p.stride)
        kwargs |= {"padding": torch_arg(p.padding), "ceil_mode": p.ceil_mode}
        return TorchCtor(f"nn.{cls.display_name()}", kwargs)

    @classmethod
    def label(cls, p: _PoolParams) -> str:
        stride = cls.stride(p)
        text = f"{cls.display_name()} {fmt_size(p.kernel, cls.ndim)}"
        if stride != (1,) * cls.ndim:
            text += f" /{stride[0] if len(set(stride)) == 1 else '×'.join(map(str, stride))}"
        return text


_POOL_DOC = """

    ``kernel``, ``stride`` (default: the kernel) and ``padding`` (at most half the kernel)
    take an int or one value per spatial dim. Each output size is
    floor((size + 2·padding - kernel) / stride) + 1, rounded up instead with
    ``ceil_mode: true`` (torch drops a last window that would start in the right padding).
"""


class _Pool1dParams(_PoolParams):
    ndim = 1


class _Pool2dParams(_PoolParams):
    ndim = 2


_EX_1D: list[tuple[dict[str, Any], list[TensorType]]] = [
    ({"kernel": 2}, [tensor("batch", 3, "seq")]),
    ({"kernel": 2, "padding": 1, "ceil_mode": True}, [tensor("batch", 3, "seq")]),
    ({"kernel": [3], "stride": 1, "padding": 1}, [tensor("batch", 2, "seq")]),
]
_EX_2D: list[tuple[dict[str, Any], list[TensorType]]] = [
    ({"kernel": 2}, [tensor("batch", 3, "h", "w")]),
    ({"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True}, [tensor("batch", 3, "h", "w")]),
    ({"kernel": [3, 2], "stride": [1, 2]}, [tensor("batch", 2, "h", "w")]),
    ({"kernel": 2, "padding": 1, "ceil_mode": True}, [tensor("batch", 2, "h", "w")]),
]


@register_layer
class MaxPool1d(_Pool):
    __doc__ = "Max over windows of [batch, channels, length] (``nn.MaxPool1d``)." + _POOL_DOC
    name = "max_pool1d"
    ndim = 1
    averages = False
    Params = _Pool1dParams
    examples = _EX_1D

    @classmethod
    def onnx_issue(cls, p: object, opset: int, xs: list[TensorType]) -> str | None:
        length = xs[0].shape[-1] if xs else 1
        if not isinstance(length, int):
            return (
                f"torch.export fixes the length '{length}' of a max_pool1d input at its traced size; "
                "export with a fixed size (--dim NAME=N)"
            )
        return None


@register_layer
class MaxPool2d(_Pool):
    __doc__ = "Max over windows of [batch, channels, h, w] (``nn.MaxPool2d``)." + _POOL_DOC
    name = "max_pool2d"
    ndim = 2
    averages = False
    Params = _Pool2dParams
    examples = _EX_2D


@register_layer
class AvgPool1d(_Pool):
    __doc__ = "Average over windows of [batch, channels, length] (``nn.AvgPool1d``)." + _POOL_DOC
    name = "avg_pool1d"
    ndim = 1
    averages = True
    Params = _Pool1dParams
    examples = _EX_1D


@register_layer
class AvgPool2d(_Pool):
    __doc__ = "Average over windows of [batch, channels, h, w] (``nn.AvgPool2d``)." + _POOL_DOC
    name = "avg_pool2d"
    ndim = 2
    averages = True
    Params = _Pool2dParams
    examples = _EX_2D


# Adaptive and global average ----------------------------------------------------------


class _AdaptiveParams(SpatialParams):
    spatial = ("size",)

    size: PositiveInt | list[PositiveInt]


class _Adaptive(LayerType):
    """Average into a fixed output size, whatever the input's spatial size."""

    family = "pool"
    primary = "size"
    ndim: ClassVar[int]

    @classmethod
    def infer(cls, p: _AdaptiveParams, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        _need_spatial(cls.name, x, cls.ndim)
        return x.with_shape((*x.shape[:2], *per_dim(p.size, cls.ndim)))

    @classmethod
    def memory(cls, p: _AdaptiveParams, c: MemCtx) -> Memory:
        # an output of size 1 is a mean (keeps nothing); other sizes keep the input
        return Memory(keep=() if set(per_dim(p.size, cls.ndim)) == {1} else (Kept("in0"),))

    @classmethod
    def other_flops(cls, p: _AdaptiveParams, xs: list[Shape], out: Shape) -> int:
        return costs.adaptive_window(xs[0][2:], out[2:], planes=numel(out[:2]))

    @classmethod
    def torch(cls, p: _AdaptiveParams, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor(f"nn.{cls.display_name()}", {"output_size": torch_arg(p.size)})

    @classmethod
    def label(cls, p: _AdaptiveParams) -> str:
        return f"{cls.display_name()} → {fmt_size(p.size, cls.ndim)}"


@register_layer
class AdaptiveAvgPool1d(_Adaptive):
    """Average [batch, channels, length] into ``size`` outputs (``nn.AdaptiveAvgPool1d``).

    ``size`` is an int (or a one-item list); the windows adapt to the input length.
    """

    name = "adaptive_avg_pool1d"
    ndim = 1

    class Params(_AdaptiveParams):
        ndim = 1

    examples = [
        ({"size": 4}, [tensor("batch", 3, "seq")]),
        ({"size": [1]}, [tensor("batch", 2, "seq")]),
    ]


@register_layer
class AdaptiveAvgPool2d(_Adaptive):
    """Average [batch, channels, h, w] into ``size`` (``nn.AdaptiveAvgPool2d``).

    ``size`` is an int (a square output) or ``[h, w]``; the windows adapt to the input.
    """

    name = "adaptive_avg_pool2d"
    ndim = 2

    class Params(_AdaptiveParams):
        ndim = 2

    examples = [
        ({"size": 1}, [tensor("batch", 3, "h", "w")]),
        ({"size": [2, 3]}, [tensor("batch", 4, "h", "w")]),
    ]


@register_layer
class GlobalAvgPool(LayerType):
    """Average over all spatial dims: [batch, channels, *spatial] -> [batch, channels].

    The usual head of a CNN before a ``linear`` classifier; no ``flatten`` is needed.
    """

    name = "global_avg_pool"
    family = "pool"
    examples = [
        ({}, [tensor("batch", 3, "h", "w")]),
        ({}, [tensor("batch", 4, "seq")]),
    ]

    @classmethod
    def infer(cls, p: object, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        need_float(x, cls.name)
        need_rank(x, (3, 4, 5), cls.name, hint="it averages dims 2.. of [batch, channels, *spatial]")
        return x.with_shape(x.shape[:2])

    @classmethod
    def memory(cls, p: object, c: MemCtx) -> Memory:
        return Memory()  # a mean keeps only the sizes

    @classmethod
    def other_flops(cls, p: object, xs: list[Shape], out: Shape) -> int:
        return costs.window(numel(out), numel(xs[0][2:]), average=True)

    @classmethod
    def torch(cls, p: object, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor("pool.GlobalAvgPool")
