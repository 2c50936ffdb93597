"""Tensor operations between nodes: scaling by a constant, ``expand``, ``matmul``, ``transpose``,
``squeeze``, ``unsqueeze`` (torch's semantics, shapes checked statically)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from archspec import shapes as dims
from archspec.layers import costs, register_layer
from archspec.layers.base import LayerParams, LayerType, Shape, ShapeError, TorchCtor, TorchFn, numel
from archspec.layers.costs import Product
from archspec.layers.memory import Kept, MemCtx, Memory
from archspec.shapes import Dim, Sym, TensorType, fmt_shape, tensor

VIEW = Memory(views={"out": "in0"})  # a view of the input: no new memory


def dim_index(d: int, rank: int, what: str = "dim", extra: int = 0) -> int:
    """``d`` (possibly negative) as an index into ``rank + extra`` positions, or a ShapeError."""
    n = rank + extra
    if not -n <= d < n:
        raise ShapeError(
            f"{what} {d} is out of range for a {rank}-D input",
            expected=f"{what} in [{-n}, {n - 1}]",
            got=str(d),
            hint="dims count from 0 (the batch dim); negative dims count from the end (-1 is the last)",
            code="bad-value",
        )
    return d % n


@register_layer
class Scale(LayerType):
    """Multiply by a constant: ``scale: 0.125`` is ``x * 0.125`` (attention's 1/√d, a fixed gain)."""

    name = "scale"
    family = "tensor"
    primary = "factor"

    class Params(LayerParams):
        factor: float

    examples = [({"factor": 0.125}, [tensor("batch", "seq", 4)]), ({"factor": -2.0}, [tensor("batch", 3)])]

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        return Memory()  # a product with a constant keeps no tensor

    @classmethod
    def other_flops(cls, p: Params, xs: list[Shape], out: Shape) -> int:
        return costs.elementwise(numel(out))

    @classmethod
    def torch_fn(cls, p: Params) -> TorchFn:
        return TorchFn("torch.mul", kwargs={"other": p.factor})

    @classmethod
    def label(cls, p: Params) -> str:
        return f"Scale × {p.factor:g}"


def _size_entry(v: Any) -> Any:
    return str(v) if isinstance(v, Sym) else v


@register_layer
class Expand(LayerType):
    """Broadcast size-1 dims to larger sizes without copying (``Tensor.expand``).

    ``shape`` lists the target sizes: an int, ``-1`` to keep a dim, or a symbolic size (``batch``,
    ``"$x.shape[0]"``) read at run time from a further input that has it: ``{expand: {shape:
    [batch, 1, -1]}, inputs: [class_token, x]}`` turns a [1, 1, D] class token into [batch, 1, D].
    Without ``shape``, dim 0 is expanded to input 2's dim 0 (its batch) and the rest kept:
    ``expand: [class_token, x]`` does the same. Extra leading dims may be added (not as -1); a dim
    that is not 1 can only keep its size.
    """

    name = "expand"
    family = "tensor"
    primary = "shape"
    max_inputs = None

    class Params(LayerParams):
        shape: list[int | str] | None = Field(default=None, min_length=1)

        @field_validator("shape", mode="before")
        @classmethod
        def _syms(cls, v: Any) -> Any:
            return [_size_entry(x) for x in v] if isinstance(v, list) else v

    examples = [
        ({}, [tensor(1, 1, 8), tensor("batch", "seq", 8)]),
        ({"shape": ["batch", 1, -1]}, [tensor(1, 1, 8), tensor("batch", "seq", 8)]),
        ({"shape": [3, -1, 5]}, [tensor("batch", 1)]),
        ({"shape": [-1, -1, "h", "w"]}, [tensor("batch", 4, 1, 1), tensor("batch", 2, "h", "w")]),
    ]

    @classmethod
    def targets(cls, p: Params, xs: list[TensorType]) -> list[Dim | None]:
        """The target sizes (None: keep the dim)."""
        if p.shape is None:
            if len(xs) < 2:
                raise ShapeError(
                    "expand without `shape` follows input 2's batch: it needs a second input",
                    got=f"{len(xs)} input",
                    hint="write `expand: [tensor, x]` (x gives the batch), or give `shape`",
                    code="bad-value",
                )
            return [xs[1].shape[0], *([None] * (xs[0].rank - 1))]
        out: list[Dim | None] = []
        for v in p.shape:
            if isinstance(v, int):
                if v == 0 or v < -1:
                    raise ShapeError(
                        "expand sizes are positive, or -1 to keep a dim", got=str(v), code="bad-value"
                    )
                out.append(None if v == -1 else v)
                continue
            try:
                d = dims.parse(v)
            except (ValueError, TypeError) as e:
                raise ShapeError(f"'{v}' is not a size: {e}", code="bad-value") from None
            out.append(d)
        return out

    @classmethod
    def sources(cls, p: Params, xs: list[TensorType]) -> list[list[int] | None]:
        """For each symbolic target, the (input, dim) it is read from at run time."""
        found: list[list[int] | None] = []
        for t in cls.targets(p, xs):
            if not isinstance(t, Sym):
                found.append(None)
                continue
            at = next(([i, j] for i, x in enumerate(xs) for j, d in enumerate(x.shape) if d == t), None)
            if at is None:
                raise ShapeError(
                    f"the symbolic size '{t}' is not a dim of any input of this node",
                    expected=f"an input with a dim '{t}'",
                    got=", ".join(str(x) for x in xs),
                    hint=f"add a node whose shape has '{t}' as a further input: `inputs: [tensor, x]`",
                )
            found.append(at)
        return found

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        x, want = xs[0], cls.targets(p, xs)
        cls.sources(p, xs)
        if len(want) < x.rank:
            raise ShapeError(
                f"expand to {len(want)} dims cannot hold a {x.rank}-D input",
                expected=f"at least {x.rank} sizes",
                got=f"{[str(t) if t is not None else -1 for t in want]} for {x}",
            )
        new = len(want) - x.rank
        out: list[Dim] = []
        for i, t in enumerate(want):
            have = x.shape[i - new] if i >= new else None
            if t is None:
                if have is None:
                    raise ShapeError(f"-1 at new leading dim {i}", hint="give new leading dims a size")
                out.append(have)
            elif have is None or have == 1 or have == t:
                out.append(t)
            else:
                raise ShapeError(
                    f"cannot expand dim {i - new} of size {have} to {t} (only size-1 dims expand)",
                    expected=f"{have}, or -1, at position {i}",
                    got=f"{t} for {x}",
                    hint="only a dim of size 1 stretches; use -1 to keep a dim",
                )
        return x.with_shape(tuple(out))

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        return VIEW

    @classmethod
    def torch(cls, p: Params, xs: list[TensorType]) -> TorchCtor:
        sizes = [t if isinstance(t, int) else -1 for t in cls.targets(p, xs)]
        return TorchCtor("tensorops.Expand", {"sizes": sizes, "sources": cls.sources(p, xs)})

    @classmethod
    def label(cls, p: Params) -> str:
        return "Expand" + ("" if p.shape is None else f" → [{', '.join(map(str, p.shape))}]")


@register_layer
class Matmul(LayerType):
    """Matrix product of two inputs as ``torch.matmul``: [..., n, k] @ [..., k, m] -> [..., n, m],
    the leading (batch) dims broadcasting; a 1-D first input is a row vector, a 1-D second input a
    column vector (that dim is dropped). The inner sizes must be equal (symbolic by meaning)."""

    name = "matmul"
    family = "tensor"
    min_inputs = max_inputs = 2
    examples = [
        ({}, [tensor("batch", "seq", 4), tensor("batch", 4, "seq")]),
        ({}, [tensor(6, 6), tensor(6, 5)]),
        ({}, [tensor("batch", 2, "seq", 4), tensor(4, 3)]),
        ({}, [tensor("batch", 1, 3, 4), tensor(2, 4, 5)]),
    ]

    @staticmethod
    def _mats(
        a: tuple[Any, ...], b: tuple[Any, ...]
    ) -> tuple[Any, Any, Any, tuple[Any, ...], tuple[Any, ...]]:
        """(n, k, m, batch of a, batch of b); 1-D operands as torch reads them."""
        a2 = (1, *a) if len(a) == 1 else a
        b2 = (*b, 1) if len(b) == 1 else b
        return a2[-2], a2[-1], b2[-1], a2[:-2], b2[:-2]

    @classmethod
    def infer(cls, p: object, xs: list[TensorType]) -> TensorType:
        a, b = xs
        if a.dtype != b.dtype:
            raise ShapeError("matmul needs one dtype", expected=a.dtype, got=f"{b.dtype} at input 2")
        if a.rank == 0 or b.rank == 0 or a.rank == b.rank == 1:
            raise ShapeError(
                "matmul needs a matrix on one side (at least 1-D and 2-D inputs)",
                got=f"{a} and {b}",
                hint="for a dot product of two vectors, multiply and `sum` them",
            )
        n, k, m, ba, bb = cls._mats(a.shape, b.shape)
        k2 = b.shape[0] if b.rank == 1 else b.shape[-2]
        if k != k2:
            raise ShapeError(
                f"matmul of {fmt_shape(a.shape)} and {fmt_shape(b.shape)}: "
                f"the inner sizes differ ({k} against {k2})",
                expected=f"{k} in dim {-2 if b.rank > 1 else 0} of input 2 (the last dim of input 1)",
                got=f"{k2} in {b}",
                hint="transpose one input (`transpose: [-2, -1]`) or check which input comes first",
            )
        try:
            batch = dims.broadcast(ba, bb)
        except dims.BroadcastError as e:
            raise ShapeError(
                f"the batch dims {fmt_shape(ba)} and {fmt_shape(bb)} of matmul do not broadcast",
                expected=f"{e.a[e.axis]} or 1",
                got=f"{e.b[e.axis]} in {b}",
                hint="batch dims stretch only where they are 1",
            ) from None
        out = (*batch, *((n,) if a.rank > 1 else ()), *((m,) if b.rank > 1 else ()))
        return a.with_shape(out)

    @classmethod
    def products(cls, p: object, xs: list[Shape], out: Shape) -> list[Product]:
        n, k, m, ba, bb = cls._mats(xs[0], xs[1])
        batch = numel(_bcast(ba, bb))
        return [Product(costs.matmul(batch, n, k, m), costs.arg(0), costs.arg(1))]

    @classmethod
    def memory(cls, p: object, c: MemCtx) -> Memory:
        a, b = c.ins
        n, k, m, ba, bb = cls._mats(a, b)
        batch = _bcast(ba, bb)
        # an operand whose batch dims broadcast is expanded into a new storage before bmm
        sa = Kept("in0") if len(a) <= 2 or tuple(ba) == batch or len(b) <= 2 else Kept("a", (*batch, n, k))
        sb = Kept("in1") if len(b) <= 2 or tuple(bb) == batch else Kept("b", (*batch, k, m))
        if len(a) > 2 and len(b) <= 2:  # [..., n, k] @ [k, m] folds a's batch into its rows: no copy
            sa = Kept("in0")
        return Memory(keep=((sb,) if c.grad(0) else ()) + ((sa,) if c.grad(1) else ()))

    @classmethod
    def torch_fn(cls, p: object) -> TorchFn:
        return TorchFn("torch.matmul", source="{0} @ {1}")


def _bcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    n = max(len(a), len(b))
    pa, pb = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    return tuple(max(x, y) for x, y in zip(pa, pb, strict=True))


@register_layer
class Transpose(LayerType):
    """Swap two dims (``torch.transpose``): ``transpose: [-2, -1]`` turns keys [b, h, s, d] into
    [b, h, d, s]. Negative dims count from the end; the batch dim may be swapped too."""

    name = "transpose"
    family = "tensor"
    primary = "dims"

    class Params(LayerParams):
        dims: list[int] = Field(min_length=2, max_length=2)

    examples = [
        ({"dims": [-2, -1]}, [tensor("batch", "seq", 4)]),
        ({"dims": [1, 2]}, [tensor("batch", 3, "h", "w")]),
    ]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        i, j = (dim_index(d, x.rank) for d in p.dims)
        shape = list(x.shape)
        shape[i], shape[j] = shape[j], shape[i]
        return x.with_shape(tuple(shape))

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        return VIEW

    @classmethod
    def torch_fn(cls, p: Params) -> TorchFn:
        return TorchFn("torch.transpose", kwargs={"dim0": p.dims[0], "dim1": p.dims[1]})

    @classmethod
    def label(cls, p: Params) -> str:
        return f"Transpose {p.dims[0]} ↔ {p.dims[1]}"


@register_layer
class Squeeze(LayerType):
    """Remove dims of size 1 (``torch.squeeze`` over ``dim``: one dim or a list). Each must be
    written as 1 in the input's shape: a symbolic dim or a larger size is an error here, where
    torch would silently keep it."""

    name = "squeeze"
    family = "tensor"
    primary = "dim"

    class Params(LayerParams):
        dim: int | list[int]

    examples = [
        ({"dim": -1}, [tensor("batch", "seq", 1)]),
        ({"dim": [2, 3]}, [tensor("batch", 4, 1, 1)]),
    ]

    @classmethod
    def dims_of(cls, p: Params, x: TensorType) -> list[int]:
        return sorted({dim_index(d, x.rank) for d in ([p.dim] if isinstance(p.dim, int) else p.dim)})

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        drop = cls.dims_of(p, x)
        for d in drop:
            if x.shape[d] != 1 or isinstance(x.shape[d], Sym):
                raise ShapeError(
                    f"squeeze dim {d} has size {x.shape[d]}, not 1",
                    expected=f"size 1 in dim {d}",
                    got=str(x),
                    hint="only a dim written as 1 can be squeezed (torch would keep it unchanged)",
                )
        return x.with_shape(tuple(s for i, s in enumerate(x.shape) if i not in drop))

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        return VIEW

    @classmethod
    def torch_fn(cls, p: Params) -> TorchFn:
        return TorchFn("torch.squeeze", kwargs={"dim": p.dim if isinstance(p.dim, int) else tuple(p.dim)})

    @classmethod
    def label(cls, p: Params) -> str:
        return f"Squeeze {p.dim}"


@register_layer
class Unsqueeze(LayerType):
    """Insert a dim of size 1 at ``dim`` (``torch.unsqueeze``; -1 appends one at the end)."""

    name = "unsqueeze"
    family = "tensor"
    primary = "dim"

    class Params(LayerParams):
        dim: int

    examples = [({"dim": -1}, [tensor("batch", "seq")]), ({"dim": 1}, [tensor("batch", 4, "h", "w")])]

    @classmethod
    def infer(cls, p: Params, xs: list[TensorType]) -> TensorType:
        x = xs[0]
        d = dim_index(p.dim, x.rank, extra=1)
        return x.with_shape((*x.shape[:d], 1, *x.shape[d:]))

    @classmethod
    def memory(cls, p: Params, c: MemCtx) -> Memory:
        return VIEW

    @classmethod
    def torch_fn(cls, p: Params) -> TorchFn:
        return TorchFn("torch.unsqueeze", kwargs={"dim": p.dim})

    @classmethod
    def label(cls, p: Params) -> str:
        return f"Unsqueeze {p.dim}"
