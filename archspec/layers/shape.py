"""Layers that only rearrange a tensor: flatten, reshape, permute, identity."""

from __future__ import annotations

from typing import NoReturn

from pydantic import Field, NonNegativeInt, field_validator

from archspec import shapes as dims
from archspec.layers import register_layer
from archspec.layers.base import LayerParams, LayerType, ShapeError, TorchCtor, numel
from archspec.layers.memory import Kept, MemCtx, Memory
from archspec.shapes import TensorType, tensor


def _dim_index(d: int, x: TensorType, what: str) -> int:
    """A possibly negative dim index of ``x``, made non-negative (or a ShapeError)."""
    if not -x.rank <= d < x.rank:
        raise ShapeError(
            f"{what} {d} is out of range for a {x.rank}-D input",
            expected=f"{what} in [{-x.rank}, {x.rank - 1}]",
            got=f"{d} for {x}",
        )
    return d % x.rank


@register_layer
class Flatten(LayerType):
    """Merge dims ``start_dim``..``end_dim`` (inclusive) into one (``nn.Flatten``).

    The defaults keep the batch dim: [batch, C, h, w] -> [batch, C·h·w]; symbolic dims
    multiply into an expression (``3 * h * w``).
    """

    name = "flatten"
    family = "shape"

    class Params(LayerParams):
        start_dim: int = 1
        end_dim: int = -1

    examples = [
        ({}, [tensor("batch", 3, "h", "w")]),
        ({"start_dim": 2}, [tensor("batch", "seq", 2, 3)]),
        ({"start_dim": 1, "end_dim": 2}, [tensor("batch", 4, "seq", 2, dtype="int64")]),
    ]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        start, end = _dim_index(p.start_dim, x, "start_dim"), _dim_index(p.end_dim, x, "end_dim")
        if start > end:
            raise ShapeError(
                "start_dim comes after end_dim",
                expected="start_dim ≤ end_dim",
                got=f"start_dim {p.start_dim}, end_dim {p.end_dim} for {x}",
            )
        merged = dims.prod(x.shape[start : end + 1])
        return x.with_shape((*x.shape[:start], merged, *x.shape[end + 1 :]))

    @classmethod
    def memory(cls, p: object, c: MemCtx) -> Memory:
        return Memory(views={"out": "in0"})  # a view of the input: no new memory

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor("nn.Flatten", {"start_dim": p.start_dim, "end_dim": p.end_dim})

    @classmethod
    def label(cls, p: Params) -> str:
        default = (p.start_dim, p.end_dim) == (1, -1)
        return "Flatten" + ("" if default else f" ({p.start_dim}..{p.end_dim})")


@register_layer
class Reshape(LayerType):
    """Reshape the non-batch dims to ``shape``: [batch, ...] -> [batch, *shape].

    One entry may be -1 to take the remaining size. The element counts are checked when
    the input's sizes are known; an input with symbolic dims needs the -1.
    """

    name = "reshape"
    family = "shape"
    primary = "shape"

    class Params(LayerParams):
        shape: list[int] = Field(min_length=1)

        @field_validator("shape")
        @classmethod
        def _check(cls, shape: list[int]) -> list[int]:
            if any(d == 0 or d < -1 for d in shape) or shape.count(-1) > 1:
                raise ValueError("entries are positive sizes, with at most one -1")
            return shape

    examples = [
        ({"shape": [4, 3]}, [tensor("batch", 12)]),
        ({"shape": [-1, 2]}, [tensor("batch", "seq", 4)]),
        ({"shape": [2, -1, 3]}, [tensor("batch", 3, 4, dtype="int64")]),
    ]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        size = dims.prod(x.shape[1:])
        known = numel(tuple(d for d in p.shape if d != -1))
        if -1 in p.shape:
            if isinstance(size, int) and size % known:
                cls.mismatch(p, x, size, f"a multiple of {known} elements")
            at = p.shape.index(-1)
            filled = [*p.shape[:at], dims.floordiv(size, known), *p.shape[at + 1 :]]
            return x.with_shape((x.shape[0], *filled))
        if not isinstance(size, int):
            raise ShapeError(
                f"cannot check that {p.shape} holds the {size} elements of each sample",
                expected=f"an input of {known} elements per sample",
                got=str(x),
                hint="write -1 for the dimension that takes the symbolic size",
            )
        if size != known:
            cls.mismatch(p, x, size, f"{known} elements")
        return x.with_shape((x.shape[0], *p.shape))

    @classmethod
    def memory(cls, p: object, c: MemCtx) -> Memory:
        return Memory(views={"out": "in0"})  # a view of the input: no new memory

    @classmethod
    def mismatch(cls, p: Params, x: TensorType, size: int, want: str) -> NoReturn:
        raise ShapeError(
            f"cannot reshape {size} elements per sample to {p.shape}",
            expected=f"an input of {want} per sample",
            got=f"{x} ({size} elements per sample)",
            hint="the batch dim is kept: `shape` lists only the other dims",
        )

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor("shape.Reshape", {"shape": list(p.shape)})

    @classmethod
    def label(cls, p: Params) -> str:
        return f"Reshape → {p.shape}"


@register_layer
class Permute(LayerType):
    """Reorder all dims, the batch dim included: ``dims`` is a permutation of 0..rank-1.

    ``permute: [0, 2, 1]`` turns [batch, seq, features] into [batch, features, seq].
    """

    name = "permute"
    family = "shape"
    primary = "dims"

    class Params(LayerParams):
        dims: list[NonNegativeInt] = Field(min_length=1)

        @field_validator("dims")
        @classmethod
        def _check(cls, order: list[int]) -> list[int]:
            if sorted(order) != list(range(len(order))):
                raise ValueError(f"must be a permutation of 0..{len(order) - 1}")
            return order

    examples = [
        ({"dims": [0, 2, 1]}, [tensor("batch", "seq", 4)]),
        ({"dims": [0, 2, 3, 1]}, [tensor("batch", 3, "h", "w")]),
    ]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        if len(p.dims) != x.rank:
            raise ShapeError(
                f"permute dims {p.dims} do not fit a {x.rank}-D input",
                expected=f"a permutation of all {x.rank} dims (batch included)",
                got=f"{len(p.dims)} dims for {x}",
            )
        return x.with_shape(tuple(x.shape[d] for d in p.dims))

    @classmethod
    def memory(cls, p: object, c: MemCtx) -> Memory:
        return Memory(views={"out": "in0"})  # a view of the input: no new memory

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor("shape.Permute", {"dims": list(p.dims)})

    @classmethod
    def label(cls, p: Params) -> str:
        return f"Permute {p.dims}"


@register_layer
class Identity(LayerType):
    """Pass the input through unchanged (``nn.Identity``): a placeholder or a named tap."""

    name = "identity"
    family = "shape"
    examples = [({}, [tensor("batch", 5)]), ({}, [tensor("batch", "seq", dtype="int64")])]

    @classmethod
    def memory(cls, p: object, c: MemCtx) -> Memory:
        return Memory(views={"out": "in0"})  # a view of the input: no new memory

    @classmethod
    def torch(cls, p: object, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor("nn.Identity")


@register_layer
class Select(LayerType):
    """Take one position along ``dim`` and drop that dim (``x[:, 0]``: a [CLS] token, a time step).

    ``index`` may be negative (``-1`` is the last position) and must fit a known size.
    """

    name = "select"
    family = "shape"
    primary = "index"

    class Params(LayerParams):
        index: int
        dim: int = 1

    examples = [
        ({"index": 0}, [tensor("batch", "seq", 6)]),
        ({"index": -1, "dim": 1}, [tensor("batch", "seq", 4)]),
        ({"index": 2, "dim": -1}, [tensor("batch", 3, 5)]),
    ]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        dim = p.dim + x.rank if p.dim < 0 else p.dim
        if not 1 <= dim < x.rank:
            raise ShapeError(
                f"dim {p.dim} is not a non-batch dim of a {x.rank}-D input",
                expected=f"dim in [1, {x.rank - 1}] (or negative)",
                got=str(x),
                code="bad-value",
            )
        size = x.shape[dim]
        if isinstance(size, int) and not -size <= p.index < size:
            raise ShapeError(
                f"index {p.index} is out of range for size {size} in dim {dim}",
                expected=f"index in [{-size}, {size - 1}]",
                got=str(x),
                code="bad-value",
            )
        return x.with_shape(x.shape[:dim] + x.shape[dim + 1 :])

    @classmethod
    def memory(cls, p: object, c: MemCtx) -> Memory:
        return Memory(views={"out": "in0"})  # a view of the input: no new memory

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor("shape.Select", {"dim": p.dim, "index": p.index})

    @classmethod
    def label(cls, p: Params) -> str:
        return f"Select [{p.index}] of dim {p.dim}"


@register_layer
class BatchSelect(LayerType):
    """Take one position along ``dim`` per batch row, the position given by a second input, and
    drop that dim: inputs ``x [batch, n, ...]`` and ``index [batch]`` (integers in [0, n)) give
    ``x[i, index[i]]`` for each row i (``[batch, ...]``). CLIP's text tower pools the hidden state
    at each sequence's end-of-text token this way: ``{batch_select, inputs: [hidden, eos.indices]}``
    after ``{name: eos, max: -1, inputs: input_ids}``. Other dims between the batch and ``dim``
    take the same position.
    """

    name = "batch_select"
    family = "shape"
    min_inputs = 2
    max_inputs = 2

    class Params(LayerParams):
        dim: int = 1

    examples = [
        ({}, [tensor("batch", "seq", 6), tensor("batch", dtype="int64")]),
        ({"dim": -1}, [tensor("batch", 3, "seq"), tensor("batch", dtype="int64")]),
        ({"dim": 2}, [tensor("batch", 2, "seq", 4), tensor("batch", dtype="int64")]),
    ]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        x, index = xs
        dim = p.dim + x.rank if p.dim < 0 else p.dim
        if not 1 <= dim < x.rank:
            raise ShapeError(
                f"dim {p.dim} is not a non-batch dim of a {x.rank}-D input",
                expected=f"dim in [1, {x.rank - 1}] (or negative)",
                got=str(x),
                code="bad-value",
            )
        if index.rank != 1 or not index.dtype.startswith(("int", "uint")) or index.shape[0] != x.shape[0]:
            raise ShapeError(
                "batch_select's second input is one integer position per batch row",
                expected=f"int64[{x.shape[0]}]",
                got=str(index),
                hint="take the positions with `max` (its `indices` output) or read them from an input",
            )
        return x.with_shape(x.shape[:dim] + x.shape[dim + 1 :])

    @classmethod
    def memory(cls, p: object, c: MemCtx) -> Memory:
        return Memory(keep=(Kept("in0"), Kept("in1")))  # what the gather keeps for backward

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor("shape.BatchSelect", {"dim": p.dim})

    @classmethod
    def label(cls, p: Params) -> str:
        return "BatchSelect" + (f" of dim {p.dim}" if p.dim != 1 else "")
