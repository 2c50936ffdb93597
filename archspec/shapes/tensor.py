"""Tensor types: a shape of dims (``int`` or symbolic ``Sym``) and a dtype.

A symbolic dim is an exact integer expression over named symbols (``batch``, ``(h + 1) // 2``)
compared by meaning (``archspec.shapes.symbolic``); arithmetic on dims is plain Python
arithmetic, and folds to an ``int`` whenever the result is constant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from archspec.shapes.symbolic import Dim, Sym

DTYPES = ("float32", "float16", "bfloat16", "float64", "int64", "int32", "bool")
FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")


@dataclass(frozen=True)
class TensorType:
    """The static type of a tensor: its shape (ints and symbolic dims) and dtype."""

    shape: tuple[Dim, ...]
    dtype: str = "float32"

    @property
    def rank(self) -> int:
        return len(self.shape)

    def with_shape(self, shape: tuple[Dim, ...] | list[Dim]) -> TensorType:
        return TensorType(tuple(shape), self.dtype)

    @property
    def symbols(self) -> frozenset[str]:
        """The symbols its dims use."""
        out: frozenset[str] = frozenset()
        for d in self.shape:
            if isinstance(d, Sym):
                out |= d.symbols
        return out

    def __str__(self) -> str:
        return f"{self.dtype}[{', '.join(str(d) for d in self.shape)}]"


def fmt_shape(shape: Iterable[Dim]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def dim_json(d: Dim) -> int | str:
    """A dim in JSON: an int, or the symbolic dim's canonical text."""
    return d if isinstance(d, int) else str(d)


# Dim arithmetic as functions (kept for plugins; `a + b` does the same).
def add(a: Dim, b: Dim) -> Dim:
    return a + b


def mul(a: Dim, b: Dim) -> Dim:
    return a * b


def floordiv(a: Dim, b: Dim) -> Dim:
    return a // b


def tensor(*dims: int | str | Dim, dtype: str = "float32") -> TensorType:
    """A tensor type from dims written as ints or text: ``tensor("batch", 3, "h", "w")``."""
    from archspec.shapes.symbolic import as_dim

    return TensorType(tuple(as_dim(d) for d in dims), dtype)
