"""Cutting tensors: ``split`` / ``chunk`` into named outputs, ``slice``, constant ``pad``."""

from __future__ import annotations

import re

from pydantic import Field, NonNegativeInt, PositiveInt, field_validator, model_validator

from archspec import shapes as dims
from archspec.layers import register_layer
from archspec.layers.base import LayerParams, LayerType, Shape, ShapeError, TorchCtor, TorchFn
from archspec.layers.memory import MemCtx, Memory
from archspec.layers.tensorops import dim_index
from archspec.shapes import Dim, Sym, TensorType, tensor

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SplitParams(LayerParams):
    dim: int
    names: list[str] | None = None

    @field_validator("names")
    @classmethod
    def _names(cls, names: list[str] | None) -> list[str] | None:
        ok = names is None or (
            len(set(names)) == len(names) and all(_NAME.fullmatch(n) and len(n) <= 64 for n in names)
        )
        if not ok:
            raise ValueError("output names are distinct identifiers (letters, digits, _)")
        return names


class _Split(LayerType):
    """Shared by split and chunk: several outputs along one dim, views of the input."""

    family = "tensor"

    @classmethod
    def sizes(cls, p: SplitParams, x: TensorType) -> list[Dim]:
        raise NotImplementedError

    @classmethod
    def names(cls, p: SplitParams, n: int) -> list[str]:
        if p.names is None:
            return [f"out{i}" for i in range(n)]
        if len(p.names) != n:
            raise ShapeError(
                f"{len(p.names)} output names for {n} parts",
                expected=f"{n} names",
                got=str(p.names),
                code="bad-value",
            )
        return list(p.names)

    @classmethod
    def outputs(cls, p: SplitParams, xs: list[TensorType]) -> dict[str, TensorType]:
        x = xs[0]
        d = dim_index(p.dim, x.rank)
        parts = cls.sizes(p, x)
        return {
            name: x.with_shape((*x.shape[:d], size, *x.shape[d + 1 :]))
            for name, size in zip(cls.names(p, len(parts)), parts, strict=True)
        }

    @classmethod
    def infer(cls, p: SplitParams, xs: list[TensorType]) -> TensorType:
        return next(iter(cls.outputs(p, xs).values()))

    @classmethod
    def memory(cls, p: SplitParams, c: MemCtx) -> Memory:
        return Memory(views={name: "in0" for name in c.outs})

    @classmethod
    def label(cls, p: SplitParams) -> str:
        return f"{cls.display_name()} (dim {p.dim})"


@register_layer
class Split(_Split):
    """Cut along ``dim`` into parts of the given ``sizes`` (``torch.split`` with a list), which
    must add up to that dim's size. Each part is an output, named by ``names`` (default
    ``out0``, ``out1``, ...; the first is the node's default output): ``{name: parts, split:
    {sizes: [64, 64, 64], dim: -1, names: [q, k, v]}}`` gives ``parts.q``, ``parts.k``, ``parts.v``."""

    name = "split"

    class Params(SplitParams):
        sizes: list[PositiveInt] = Field(min_length=1)

    examples = [
        ({"sizes": [2, 3, 1], "dim": -1}, [tensor("batch", "seq", 6)]),
        ({"sizes": [1, 3], "dim": 1, "names": ["a", "b"]}, [tensor("batch", 4, "h", "w")]),
    ]

    @classmethod
    def sizes(cls, p: Params, x: TensorType) -> list[Dim]:  # type: ignore[override]
        d = dim_index(p.dim, x.rank)
        if sum(p.sizes) != x.shape[d]:
            raise ShapeError(
                f"split sizes {p.sizes} add up to {sum(p.sizes)}, not the {x.shape[d]} of dim {d}",
                expected=f"sizes adding up to {x.shape[d]}",
                got=f"{p.sizes} for {x}",
                hint="use `chunk` to cut a symbolic dim into equal parts",
            )
        return list(p.sizes)

    @classmethod
    def torch_fn(cls, p: Params) -> TorchFn:
        return TorchFn("torch.split", kwargs={"split_size_or_sections": list(p.sizes), "dim": p.dim})


@register_layer
class Chunk(_Split):
    """Cut along ``dim`` into ``chunks`` equal parts (``torch.chunk``); the dim's size must be a
    multiple of ``chunks`` (symbolic sizes too: ``2 * d`` splits in 2). Outputs as for ``split``:
    ``{name: halves, chunk: {chunks: 2, dim: -1, names: [value, gate]}}``."""

    name = "chunk"
    primary = "chunks"

    class Params(SplitParams):
        chunks: int = Field(ge=2)

    examples = [
        ({"chunks": 3, "dim": -1, "names": ["q", "k", "v"]}, [tensor("batch", "seq", 12)]),
        ({"chunks": 2, "dim": 1}, [tensor("batch", 4, "h", "w")]),
    ]

    @classmethod
    def sizes(cls, p: Params, x: TensorType) -> list[Dim]:  # type: ignore[override]
        d = dim_index(p.dim, x.rank)
        n = x.shape[d]
        part = dims.floordiv(n, p.chunks)
        if part * p.chunks != n or (isinstance(part, int) and part == 0):
            raise ShapeError(
                f"dim {d} of size {n} does not cut into {p.chunks} equal parts",
                expected=f"a multiple of {p.chunks} in dim {d}",
                got=str(x),
                hint="use `split` with explicit sizes for unequal parts",
            )
        return [part] * p.chunks

    @classmethod
    def torch_fn(cls, p: Params) -> TorchFn:
        return TorchFn("torch.chunk", kwargs={"chunks": p.chunks, "dim": p.dim})


@register_layer
class Slice(LayerType):
    """Keep positions ``start`` .. ``end`` (exclusive) in steps of ``step`` along ``dim``: Python's
    ``x[..., start:end:step]`` (``narrow`` is ``end = start + length``). Negative ``start``/``end``
    count from the end; ``end`` defaults to the dim's size. A view of the input."""

    name = "slice"
    family = "tensor"

    class Params(LayerParams):
        dim: int
        start: int = 0
        end: int | None = None
        step: PositiveInt = 1

    examples = [
        ({"dim": 1, "start": 1}, [tensor("batch", "seq", 4)]),
        ({"dim": -1, "start": 1, "end": 5, "step": 2}, [tensor("batch", 6)]),
        ({"dim": 1, "start": -3, "end": -1}, [tensor("batch", "seq", 2)]),
    ]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        d = dim_index(p.dim, x.rank)
        n = x.shape[d]
        start: Dim = p.start + n if p.start < 0 else p.start
        end: Dim = n if p.end is None else (p.end + n if p.end < 0 else p.end)
        if isinstance(n, int) and isinstance(start, int) and isinstance(end, int):
            start, end = min(max(start, 0), n), min(max(end, 0), n)
        length = dims.floordiv(end - start + (p.step - 1), p.step)
        if (isinstance(length, int) and length <= 0) or not isinstance(length, (int, Sym)):
            raise ShapeError(
                f"slice {p.start}:{p.end} of dim {d} (size {n}) is empty",
                expected="at least one position",
                got=str(x),
                hint="negative start and end count from the end of the dim",
                code="bad-value",
            )
        return x.with_shape((*x.shape[:d], length, *x.shape[d + 1 :]))

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        return Memory(views={"out": "in0"})

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        return TorchCtor("tensorops.Slice", {"dim": p.dim, "start": p.start, "end": p.end, "step": p.step})

    @classmethod
    def label(cls, p: Params) -> str:
        end = "" if p.end is None else p.end
        return f"Slice [{p.start}:{end}{'' if p.step == 1 else f':{p.step}'}] of dim {p.dim}"


@register_layer
class Pad(LayerType):
    """Pad with a constant (``torch.nn.functional.pad``, constant mode): ``pad`` lists
    (before, after) pairs from the last dim backwards: ``pad: [1, 1]`` pads the last dim by one
    on each side, ``pad: [0, 1, 0, 1]`` adds a row at the bottom and a column at the right of an
    image (TensorFlow's 'same' padding of a stride-2 layer)."""

    name = "pad"
    family = "tensor"
    primary = "pad"

    class Params(LayerParams):
        pad: list[NonNegativeInt] = Field(min_length=2)
        value: float = 0.0

        @model_validator(mode="after")
        def _pairs(self) -> Pad.Params:
            if len(self.pad) % 2:
                raise ValueError("pad lists (before, after) pairs: an even number of sizes")
            return self

    examples = [
        ({"pad": [1, 2]}, [tensor("batch", "seq", 4)]),
        ({"pad": [0, 1, 0, 1], "value": -1.0}, [tensor("batch", 3, "h", "w")]),
    ]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        pairs = len(p.pad) // 2
        if pairs > x.rank:
            raise ShapeError(
                f"pad gives {pairs} dims' padding for a {x.rank}-D input",
                expected=f"at most {2 * x.rank} sizes",
                got=str(p.pad),
                code="bad-value",
            )
        shape = list(x.shape)
        for i in range(pairs):
            shape[-1 - i] = shape[-1 - i] + (p.pad[2 * i] + p.pad[2 * i + 1])
        return x.with_shape(tuple(shape))

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        return Memory()  # the backward is a slice: nothing kept

    @classmethod
    def other_flops(cls, p: Params, xs: list[Shape], out: Shape) -> int:
        return 0  # moving data

    @classmethod
    def torch_fn(cls, p: Params) -> TorchFn:
        return TorchFn("torch.nn.functional.pad", kwargs={"pad": list(p.pad), "value": p.value})

    @classmethod
    def label(cls, p: Params) -> str:
        return f"Pad {list(p.pad)}" + ("" if p.value == 0 else f" with {p.value:g}")
