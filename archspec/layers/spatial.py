"""Sliding-window arithmetic shared by convolutions and pooling: settings that take one value or
one per spatial dim, and torch's output-length formula on known and symbolic sizes."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ValidationInfo, field_validator

from archspec import shapes as dims
from archspec.layers.base import LayerParams, ShapeError
from archspec.shapes import Dim, TensorType


class SpatialParams(LayerParams):
    """Params whose ``spatial`` fields take one int (every spatial dim) or one per dim."""

    ndim: ClassVar[int]  # 1 for *1d layers, 2 for *2d
    spatial: ClassVar[tuple[str, ...]]

    @field_validator("*")
    @classmethod
    def _check_length(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name in cls.spatial and isinstance(value, list) and len(value) != cls.ndim:
            raise ValueError(f"takes one int or a list of {cls.ndim} (one per spatial dim), not {len(value)}")
        return value


LAYOUTS = {1: "[batch, channels, length]", 2: "[batch, channels, h, w]", 3: "[batch, channels, d, h, w]"}


def per_dim(value: int | list[int], n: int) -> tuple[int, ...]:
    """An int or list setting as one value per spatial dim."""
    return tuple(value) if isinstance(value, list) else (value,) * n


def torch_arg(value: Any) -> Any:
    """A list setting as the tuple torch constructors conventionally take."""
    return tuple(value) if isinstance(value, list) else value


def fmt_size(value: int | list[int], n: int) -> str:
    return "×".join(str(v) for v in per_dim(value, n))


def out_size(size: Dim, k: int, s: int, p: int, d: int = 1, ceil: bool = False) -> Dim:
    """torch's output length: floor((size + 2p - d(k-1) - 1) / s) + 1, symbolic or not.

    In ``ceil`` mode (pooling) the division rounds up, but the last window must start
    inside the input or its left padding, which caps the length at ceil((size + p) / s).
    """
    span = d * (k - 1) + 1  # the effective kernel
    if s == 1:
        return dims.add(size, 2 * p - span + 1)
    if ceil and s > span - p:
        # The cap binds: as floor((size + c) / s) it is the smaller of the two for every size.
        return dims.floordiv(dims.add(size, p + s - 1), s)
    rounding = s - 1 if ceil else 0
    return dims.add(dims.floordiv(dims.add(size, 2 * p - span + rounding), s), 1)


def spatial_out(
    x: TensorType,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    dilation: tuple[int, ...] | None = None,
    ceil: bool = False,
) -> list[Dim]:
    """The output spatial dims of a sliding window over ``x``'s dims 2..; checks known sizes."""
    dilation = dilation or (1,) * len(kernel)
    out = []
    for i, (size, k, s, p, d) in enumerate(zip(x.shape[2:], kernel, stride, padding, dilation, strict=True)):
        o = out_size(size, k, s, p, d, ceil)
        if isinstance(o, int) and o < 1:
            assert isinstance(size, int)
            span = d * (k - 1) + 1
            raise ShapeError(
                f"the kernel ({span} wide) is larger than the padded input "
                f"({size} + 2×{p}) in spatial dim {i + 2}",
                expected=f"size ≥ {span - 2 * p} in dim {i + 2}",
                got=str(x),
                hint="use a smaller kernel or more padding, or downsample less before this layer",
            )
        out.append(o)
    return out
