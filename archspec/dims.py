"""Tensor types with symbolic dimensions.

A dimension is an ``int`` or a ``str``: a symbol (``batch``) or an expression over
symbols (``(h - 3) // 2 + 1``) built by the helpers below. Integer arithmetic folds;
anything symbolic stays a readable expression that ``expr.evaluate`` can size later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

Dim = Union[int, str]
DTYPES = ("float32", "float16", "bfloat16", "float64", "int64", "int32", "bool")
FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")


@dataclass(frozen=True)
class TensorType:
    """The static type of a tensor: its shape (ints and symbols) and dtype."""

    shape: tuple[Dim, ...]
    dtype: str = "float32"

    @property
    def rank(self) -> int:
        return len(self.shape)

    def with_shape(self, shape: tuple[Dim, ...] | list[Dim]) -> TensorType:
        return TensorType(tuple(shape), self.dtype)

    def __str__(self) -> str:
        return f"{self.dtype}[{', '.join(str(d) for d in self.shape)}]"


def _wrap(d: Dim) -> str:
    s = str(d)
    return s if isinstance(d, int) or s.isidentifier() else f"({s})"


def add(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a + b
    if b == 0:
        return a
    if a == 0:
        return b
    if isinstance(b, int) and b < 0:
        return f"{_wrap(a)} - {-b}"
    return f"{_wrap(a)} + {_wrap(b)}"


def mul(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    if a == 1:
        return b
    if b == 1:
        return a
    return f"{_wrap(a)} * {_wrap(b)}"


def floordiv(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a // b
    if b == 1:
        return a
    return f"{_wrap(a)} // {_wrap(b)}"


def prod(dims: tuple[Dim, ...] | list[Dim]) -> Dim:
    out: Dim = 1
    for d in dims:
        out = mul(out, d)
    return out


def fmt_shape(shape: tuple[Dim, ...] | list[Dim]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"
