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

from archspec.shapes.symbolic import Sym

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
    """An expression is malformed or fails; the caller adds the location.

    ``where`` is the path of the failing string inside a substituted value (see ``substitute``).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.where: tuple[str | int, ...] = ()


Shapes = Callable[[str], "tuple[Any, ...] | None"]


def evaluate(text: str, names: Mapping[str, Any], shapes: Shapes | None = None) -> Any:
    """Evaluate ``text`` with the variables in ``names``.

    ``shapes(name)`` gives the inferred shape of a node or input of the current graph, for
    ``name.shape[i]`` (None when there is no such node); without it, ``.shape`` is not allowed.
    """
    if not isinstance(text, str):
        raise ExprError(f"an expression is text, not {type(text).__name__}")
    if len(text) > MAX_LEN:
        raise ExprError(f"expression longer than {MAX_LEN} characters")
    try:
        return _Evaluator(names, shapes).eval(_parse(text.strip()))
    except ExprError:
        raise
    except (ArithmeticError, TypeError, ValueError, RecursionError, MemoryError) as e:
        raise ExprError(f"cannot evaluate {text.strip()!r}: {e}") from None


def substitute(value: Any, names: Mapping[str, Any], shapes: Shapes | None = None) -> Any:
    """``value`` with every ``$expression`` string (in lists and mappings too) evaluated.

    ``$$text`` is the literal ``$text``; ``${...}`` is the same as ``$...``. A failure is an
    ``ExprError`` whose ``where`` is the path of the failing string inside ``value``.
    """
    if isinstance(value, str) and value.startswith("$"):
        if value.startswith("$$"):
            return value[1:]
        text = value[1:]
        if text.startswith("{") and text.endswith("}"):
            text = text[1:-1]
        return evaluate(text, names, shapes)
    if isinstance(value, list):
        return [_at(i, v, names, shapes) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _at(k, v, names, shapes) for k, v in value.items()}
    return value


def _at(key: str | int, value: Any, names: Mapping[str, Any], shapes: Shapes | None) -> Any:
    try:
        return substitute(value, names, shapes)
    except ExprError as e:
        e.where = (key, *e.where)
        raise


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("$") and not value.startswith("$$")


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


def _number(value: Any, what: str) -> Any:
    """``value`` if it is a number (booleans count as 0/1, as in Python) or a symbolic dim."""
    if not isinstance(value, (int, float, Sym)):
        raise ExprError(f"{what} needs numbers, got {type(value).__name__} {_short(value)}")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class _Evaluator:
    def __init__(self, names: Mapping[str, Any], shapes: Shapes | None) -> None:
        self.names, self.shapes = names, shapes

    def eval(self, node: ast.AST) -> Any:
        return _eval(node, self)


def _shape_dim(node: ast.Subscript, ev: _Evaluator) -> Any:
    """``name.shape[i]``: one dim of a node's (or input's) inferred shape."""
    target = node.value
    assert isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
    name = target.value.id
    shape = ev.shapes(name) if ev.shapes is not None else None
    if shape is None:
        where = "here" if ev.shapes is None else f"'{name}' is not a node or input defined before this one"
        raise ExprError(f"'{name}.shape' cannot be read {where}" if ev.shapes is None else where)
    index = _eval(node.slice, ev)
    if not isinstance(index, int) or isinstance(index, bool) or not -len(shape) <= index < len(shape):
        raise ExprError(f"{name}.shape has {len(shape)} dims; index {index!r} is out of range")
    return shape[index]


_SHORT = {"channels": 1, "features": -1}  # `x.channels` is `x.shape[1]`, `x.features` `x.shape[-1]`


def _short_read(node: ast.Attribute, ev: _Evaluator) -> Any:
    """``name.channels`` / ``name.features``: flow-style YAML friendly forms of ``.shape[i]``."""
    assert isinstance(node.value, ast.Name)
    name = node.value.id
    shape = ev.shapes(name) if ev.shapes is not None else None
    if shape is None:
        raise ExprError(
            f"'{name}.{node.attr}' cannot be read here (`when:`, `repeat:` and `vars:` cannot read shapes)"
            if ev.shapes is None
            else f"'{name}' is not a node or input defined before this one"
        )
    index = _SHORT[node.attr]
    if not -len(shape) <= index < len(shape) or (index == 1 and len(shape) < 2):
        raise ExprError(f"{name} has {len(shape)} dims: it has no {node.attr}")
    return shape[index]


def _is_shape_read(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "shape"
        and isinstance(node.value.value, ast.Name)
    )


def _eval(node: ast.AST, ev: _Evaluator) -> Any:
    names = ev.names
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
        return _check(node.value)
    if isinstance(node, ast.Name):
        if node.id in ("True", "False"):
            return node.id == "True"
        if node.id not in names:
            raise ExprError(f"unknown name '{node.id}'")
        return _check(names[node.id])
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval(node.left, ev), _eval(node.right, ev)
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
        value = _eval(node.operand, ev)
        if isinstance(node.op, ast.Not):
            return not value
        if isinstance(node.op, ast.USub):
            return -_number(value, "'-'")
        if isinstance(node.op, ast.UAdd):
            return +_number(value, "'+'")
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, ev) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare) and all(type(op) in _CMPOPS for op in node.ops):
        left = _eval(node.left, ev)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = _eval(comp, ev)
            if not isinstance(op, (ast.Eq, ast.NotEq)):
                _number(left, "a comparison"), _number(right, "a comparison")
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        return True
    if _is_shape_read(node):
        return _shape_dim(node, ev)  # type: ignore[arg-type]
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.attr in _SHORT:
        return _short_read(node, ev)
    if isinstance(node, ast.IfExp):
        return _eval(node.body if _eval(node.test, ev) else node.orelse, ev)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCS
        and not node.keywords
    ):
        args = [_number(_eval(a, ev), f"{node.func.id}()") for a in node.args]
        try:
            return _check(_FUNCS[node.func.id](*args))
        except (ArithmeticError, TypeError, ValueError) as e:
            raise ExprError(f"{node.func.id}(): {e}") from None
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        raise ExprError(
            f"'{ast.unparse(node)}' is not allowed in an expression: a node's shape reads as "
            f"`{node.value.id}.channels`, `{node.value.id}.features` or `{node.value.id}.shape[i]`"
        )
    raise ExprError(f"'{ast.unparse(node)}' is not allowed in an expression")
