"""A small safe evaluator for ``$expressions`` in specs and for sizing symbolic dims.

The text is parsed with ``ast.parse`` and walked here: only numbers, strings, names
from the given variables, arithmetic, comparisons, boolean logic, ``a if c else b``
and ``min``/``max``/``abs``/``int`` are allowed. Nothing is ever passed to ``eval``.

Values are bounded: numbers by ``MAX_ABS``, strings by ``MAX_STR`` characters. Arithmetic is
numeric; the one string operation is ``+`` (joining two strings), and strings compare only
with ``==``/``!=``. Every failure is an ``ExprError``; nothing else escapes ``evaluate``.
"""

from __future__ import annotations

import ast
import functools
import operator
from collections.abc import Callable, Mapping
from typing import Any

MAX_ABS = 10**18  # no value in a spec needs to be larger than this
MAX_LEN = 400  # characters of an expression
MAX_STR = 1000  # characters of a string value

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


_OP_TEXT = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.FloorDiv: "//",
    ast.Div: "/",
    ast.Mod: "%",
    ast.Pow: "**",
}


class ExprError(ValueError):
    """An expression is malformed or fails; the caller adds the location."""


def evaluate(text: str, names: Mapping[str, Any]) -> Any:
    """Evaluate ``text`` with the variables in ``names``."""
    if not isinstance(text, str):
        raise ExprError(f"an expression is text, not {type(text).__name__}")
    if len(text) > MAX_LEN:
        raise ExprError(f"expression longer than {MAX_LEN} characters")
    try:
        return _eval(_parse(text.strip()), names)
    except ExprError:
        raise
    except (ArithmeticError, TypeError, ValueError, RecursionError, MemoryError) as e:
        raise ExprError(f"cannot evaluate {text.strip()!r}: {e}") from None


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> ast.expr:
    """The expression's syntax tree (cached: a repeated block evaluates the same texts)."""
    try:
        return ast.parse(text, mode="eval").body
    except SyntaxError as e:
        raise ExprError(f"cannot parse expression {text!r}: {e.msg}") from None
    except (ValueError, RecursionError, MemoryError) as e:  # NUL bytes, absurd nesting
        raise ExprError(f"cannot parse expression {text!r}: {e}") from None


def _check(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) > MAX_STR:
            raise ExprError(f"a string value is longer than {MAX_STR} characters")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if value != value or abs(value) > MAX_ABS:
        raise ExprError(f"value {value:.3g} is out of range (limit 1e18)")
    return value


def _number(value: Any, what: str) -> int | float:
    """``value`` if it is a number (booleans count as 0/1, as in Python)."""
    if not isinstance(value, (int, float)):
        raise ExprError(f"{what} needs numbers, got {type(value).__name__} {_short(value)}")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _eval(node: ast.AST, names: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
        return _check(node.value)
    if isinstance(node, ast.Name):
        if node.id in ("True", "False"):
            return node.id == "True"
        if node.id not in names:
            raise ExprError(f"unknown name '{node.id}'")
        return _check(names[node.id])
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval(node.left, names), _eval(node.right, names)
        if isinstance(node.op, ast.Add) and isinstance(left, str) and isinstance(right, str):
            if len(left) + len(right) > MAX_STR:
                raise ExprError(f"a string value is longer than {MAX_STR} characters")
            return left + right
        what = f"'{_OP_TEXT.get(type(node.op), '?')}'"
        left, right = _number(left, what), _number(right, what)
        if isinstance(node.op, ast.Pow) and (not isinstance(right, int) or abs(right) > 64):
            raise ExprError("exponent must be an integer of at most 64")
        try:
            return _check(_BINOPS[type(node.op)](left, right))
        except (ArithmeticError, TypeError, ValueError) as e:
            raise ExprError(str(e)) from None
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, names)
        if isinstance(node.op, ast.Not):
            return not value
        if isinstance(node.op, ast.USub):
            return -_number(value, "'-'")
        if isinstance(node.op, ast.UAdd):
            return +_number(value, "'+'")
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, names) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare) and all(type(op) in _CMPOPS for op in node.ops):
        left = _eval(node.left, names)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = _eval(comp, names)
            if not isinstance(op, (ast.Eq, ast.NotEq)):
                _number(left, "a comparison"), _number(right, "a comparison")
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
        args = [_number(_eval(a, names), f"{node.func.id}()") for a in node.args]
        try:
            return _check(_FUNCS[node.func.id](*args))
        except (ArithmeticError, TypeError, ValueError) as e:
            raise ExprError(f"{node.func.id}(): {e}") from None
    raise ExprError(f"'{ast.unparse(node)}' is not allowed in an expression")


def eval_dim(dim: int | str, sizes: Mapping[str, int]) -> int:
    """The concrete size of a dimension, given sizes for its symbols."""
    if isinstance(dim, int):
        return dim
    value = evaluate(dim, sizes)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ExprError(f"dimension {dim!r} is not an integer")
    return value
