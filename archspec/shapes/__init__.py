"""Shapes with symbolic dimensions: exact expressions, compared by meaning (no torch, no sympy).

- :mod:`.symbolic`: :data:`Dim` (``int | Sym``), :class:`Sym`, :func:`sym`, :func:`parse`,
  :func:`subs`, :func:`evaluate`, :func:`symbols`, :func:`ceil_div`, :func:`min_dim`,
  :func:`max_dim`, :func:`as_dim`, :func:`is_sym`, :func:`decide_equal`.
- :mod:`.arith`: torch's shape formulas (:func:`conv_out`, :func:`pool_out`,
  :func:`conv_transpose_out`, :func:`broadcast`, :func:`prod`).
- :mod:`.decide`: the exact zero test behind ``==`` (:func:`~.decide.is_zero`, its budget).
- :mod:`.tensor`: :class:`TensorType` (a shape of dims and a dtype).
"""

from .arith import BroadcastError, broadcast, conv_out, conv_transpose_out, pool_out, prod
from .symbolic import (
    Dim,
    Sym,
    as_dim,
    ceil_div,
    decide_equal,
    evaluate,
    is_sym,
    max_dim,
    min_dim,
    parse,
    subs,
    sym,
    symbols,
)
from .tensor import DTYPES, FLOAT_DTYPES, TensorType, add, dim_json, floordiv, fmt_shape, mul, tensor

__all__ = [
    "DTYPES",
    "FLOAT_DTYPES",
    "BroadcastError",
    "Dim",
    "Sym",
    "TensorType",
    "add",
    "as_dim",
    "broadcast",
    "ceil_div",
    "conv_out",
    "conv_transpose_out",
    "decide_equal",
    "dim_json",
    "evaluate",
    "floordiv",
    "fmt_shape",
    "is_sym",
    "max_dim",
    "min_dim",
    "mul",
    "parse",
    "pool_out",
    "prod",
    "subs",
    "sym",
    "symbols",
    "tensor",
]
