"""Dynamic dims, and the sizes an export traces and checks at."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archspec.errors import ArchspecError
from archspec.passes import Analysis
from archspec.shapes import Dim
from archspec.spec import expr

_BATCH_NAMES = frozenset({"batch", "batch_size", "bs", "b", "n", "num"})
_SEQ_BASES = (7, 11, 13, 17, 19, 23, 29, 31)  # distinct trace sizes (torch unifies equal ones)
_SCALES = (1, 2, 4, 8, 16, 32)


def _symbols(dim: Dim) -> set[str]:
    return set() if isinstance(dim, int) else set(dim.symbols)


@dataclass
class SizePlan:
    """Sizes for each dynamic dim: one to trace at, two to check at."""

    dims: list[str]
    trace: dict[str, int]
    checks: list[dict[str, int]]

    @classmethod
    def make(cls, a: Analysis) -> SizePlan:
        dims = sorted({s for t in a.inputs.values() for d in t.shape for s in _symbols(d)})
        if not dims:
            return cls([], {}, [{}])
        for scale in _SCALES:
            trace, small, large = _candidates(dims, scale)
            if all(fits(a, s) for s in (trace, small, large)):
                return cls(dims, trace, [small, large])
        raise ArchspecError(
            "unsupported",
            f"no sizes of {', '.join(dims)} found that every layer of '{a.model}' accepts",
            hint="fix those dims with sizes (--dim NAME=N) and export again",
        )


def _candidates(dims: list[str], scale: int) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    trace, small, large = {}, {}, {}
    others = [d for d in dims if d.lower() not in _BATCH_NAMES]
    for d in dims:
        if d.lower() in _BATCH_NAMES:
            trace[d], small[d], large[d] = 2, 1, 3
        else:
            base = _SEQ_BASES[others.index(d) % len(_SEQ_BASES)] * scale
            trace[d], small[d], large[d] = base, base - 2, base + 2
    return trace, small, large


def fits(a: Analysis, sizes: dict[str, int]) -> bool:
    """Every tensor of the model has a positive size at ``sizes``."""
    types = [*a.inputs.values()] + [n.out for _, n in a.graph.walk() if n.out is not None]
    try:
        return all(size(d, {**a.sizes, **sizes}) > 0 for t in types for d in t.shape)
    except (ValueError, KeyError):
        return False


def size(dim: Dim, sizes: Mapping[str, int]) -> int:
    return dim if isinstance(dim, int) else dim.evaluate(sizes)


def dynamic_shapes(a: Analysis, plan: SizePlan) -> tuple[dict[int, Any] | None, ...]:
    """``torch.export`` dynamic shapes: one named Dim per symbol, shared across inputs."""
    from torch.export import Dim as TorchDim

    named = {d: TorchDim(d) for d in plan.dims}
    shapes: list[dict[int, Any] | None] = []
    for name, t in a.inputs.items():
        axes: dict[int, Any] = {}
        for i, d in enumerate(t.shape):
            if not isinstance(d, int):
                axes[i] = _torch_dim(a, name, d, named)
        shapes.append(axes or None)
    return tuple(shapes)


def _torch_dim(a: Analysis, inp: str, dim: Dim, named: dict[str, Any]) -> Any:
    if str(dim) in named:
        return named[str(dim)]
    try:  # an expression: a derived dim such as 2 * seq (torch supports + - * by ints)
        return expr.evaluate(str(dim), named)
    except (expr.ExprError, TypeError, AttributeError) as e:
        raise ArchspecError(
            "unsupported",
            f"input '{inp}' has the dim '{dim}', which cannot be a dynamic ONNX axis ({e})",
            node=inp,
            hint="use a plain symbol, or fix its symbols with sizes (--dim NAME=N)",
        ) from None
