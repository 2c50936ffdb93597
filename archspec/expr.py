"""A small safe evaluator for ``$expressions`` in specs and for sizing symbolic dims.

The text is parsed with ``ast.parse`` and walked here: only numbers, strings, names
from the given variables, arithmetic, comparisons, boolean logic, ``a if c else b``
and ``min``/``max``/``abs``/``int`` are allowed. Nothing is ever passed to ``eval``.
"""

from __future__ import annotations

import ast
import functools
import operator
from collections.abc import Callable, Mapping
from typing import Any

MAX_ABS = 10**18  # no value in a spec needs to be larger than this
MAX_LEN = 400

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_FUNCS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "abs": abs, "int": int}


class ExprError(ValueError):
    """An expression is malformed or fails; the caller adds the location."""


def evaluate(text: str, names: Mapping[str, Any]) -> Any:
    """Evaluate ``text`` with the variables in ``names``."""
    if len(text) > MAX_LEN:
        raise ExprError(f"expression longer than {MAX_LEN} characters")
    return _eval(_parse(text.strip()), names)


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> ast.expr:
    """The expression's syntax tree (cached: a repeated block evaluates the same texts)."""
    try:
        return ast.parse(text, mode="eval").body
    except SyntaxError as e:
        raise ExprError(f"cannot parse expression {text!r}: {e.msg}") from None


def _check(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if abs(value) > MAX_ABS:
        raise ExprError(f"value {value:.3g} is out of range (limit 1e18)")
    return value


def _eval(node: ast.AST, names: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
        return _check(node.value)
    if isinstance(node, ast.Name):
        if node.id in ("True", "False"):
            return node.id == "True"
        if node.id not in names:
            raise ExprError(f"unknown name '{node.id}'")
        return names[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval(node.left, names), _eval(node.right, names)
        if isinstance(node.op, ast.Pow) and (not isinstance(right, int) or abs(right) > 64):
            raise ExprError("exponent must be an integer of at most 64")
        try:
            return _check(_BINOPS[type(node.op)](left, right))
        except (ZeroDivisionError, TypeError, OverflowError) as e:
            raise ExprError(str(e)) from None
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, names)
        if isinstance(node.op, ast.Not):
            return not value
        if isinstance(node.op, ast.USub):
            return -value
        if isinstance(node.op, ast.UAdd):
            return +value
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, names) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare) and all(type(op) in _CMPOPS for op in node.ops):
        left = _eval(node.left, names)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = _eval(comp, names)
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        return _eval(node.body if _eval(node.test, names) else node.orelse, names)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCS
        and not node.keywords
    ):
        args = [_eval(a, names) for a in node.args]
        try:
            return _check(_FUNCS[node.func.id](*args))
        except (TypeError, ValueError) as e:
            raise ExprError(str(e)) from None
    raise ExprError(f"'{ast.unparse(node)}' is not allowed in an expression")


def eval_dim(dim: int | str, sizes: Mapping[str, int]) -> int:
    """The concrete size of a dimension, given sizes for its symbols."""
    if isinstance(dim, int):
        return dim
    value = evaluate(dim, sizes)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ExprError(f"dimension {dim!r} is not an integer")
    return value
