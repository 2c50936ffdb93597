"""Symbolic dimensions: exact integer expressions over named sizes, compared by meaning.

A dimension (:data:`Dim`) is an ``int`` or a :class:`Sym`. A ``Sym`` is an immutable
integer-valued expression over symbols (``batch``, ``h``) built from integer constants with
``+``, ``-``, ``*``, floor division ``//`` and ``%``. Floor division and ``%`` by a constant are
exact and simplified; by a symbolic divisor, and ``min``/``max`` (:func:`min_dim`,
:func:`max_dim`), they are opaque atoms compared by structure. A ``Sym`` never stands for a
constant: every operation returns an ``int`` as soon as its result is constant for all sizes
(decided exactly, as for ``==`` below, with opaque atoms taken as independent values; so
``min(h, h + 1) - h`` stays a ``Sym``).

**Canonical form.** A polynomial with integer coefficients over atoms (symbols and normalized
floor atoms), terms in a fixed order. Floor atoms are normalized (``floor((k*Q + R) / k) ==
Q + floor(R / k)`` with ``R``'s coefficients in ``[0, k)``, common factors of ``R`` and ``k``
divided out, nested constant floors collapsed; ``x % k`` is ``x - k * (x // k)``). So
``(h - 2) - 2`` *is* ``h - 4``, ``(h - 1) // 2 + 1`` prints ``(h + 1) // 2``, and
``2 * (seq // 2)`` stays distinct from ``seq``.

**Equality** (``==``) is by meaning and exact: ``a == b`` iff ``a - b`` is 0 for every integer
value of every symbol, with opaque atoms taken as independent values (so an identity that rests
on what ``min``/``max`` or a symbolic floor computes is not found: a false "different", never a
false "equal"). Equal canonical forms answer at once; otherwise a comparison at three fixed points
answers most "different" cases, and the rest goes to :func:`~archspec.shapes.decide.is_zero`
(exact for floors by constants, bounded work; past the bound, "different":
:func:`decide_equal` tells that case apart). ``hash`` is the values at the fixed points, so equal
dims hash alike. ``Sym == int`` is always False. Adding, and comparing dims whose canonical
forms are equal or that have no floors, never run the decision.

**Not allowed**: ordering (``<``, ``<=``, ``>``, ``>=``, hence builtin ``min``/``max``/``sorted``)
and truth testing (``bool(d)``, ``if d:``) raise TypeError, since neither has an answer for all
sizes; ``/`` raises TypeError (use ``//``); ``int(d)`` fails (use :meth:`Sym.evaluate`).
Expressions over :data:`~archspec.shapes._poly.MAX_TERMS` terms raise ValueError.

The text of a ``Sym`` (``str``) is canonical Python-like syntax that :func:`parse` reads back to
an equal dim; ``repr`` is ``Sym('h - 4')`` and ``Sym(text)`` parses (it refuses constants).
"""

from __future__ import annotations

import ast
import keyword
from collections.abc import Iterable, Mapping
from typing import TypeAlias

from . import _poly as P  # noqa: N812
from ._text import poly_str
from ._values import evaluate as _evaluate
from ._values import points as _points
from .decide import is_zero

MAX_TEXT = 400  # longest expression text parse accepts


class Sym:
    """A non-constant symbolic integer expression (see the module docstring)."""

    __slots__ = ("_hash", "_p", "_pts", "_str")
    _p: P.Poly
    _pts: tuple[int, int, int] | None
    _str: str | None
    _hash: int | None

    def __new__(cls, text: str) -> Sym:
        dim = parse(text)
        if not isinstance(dim, Sym):
            raise ValueError(f"{text!r} is the constant {dim}; use parse() for text that may be constant")
        return dim

    @classmethod
    def _of(cls, p: P.Poly, pts: tuple[int, int, int] | None = None) -> Sym:
        obj = object.__new__(cls)
        obj._p, obj._pts, obj._str, obj._hash = p, pts, None, None
        return obj

    # -- inspection ---------------------------------------------------------------------
    @property
    def symbols(self) -> frozenset[str]:
        """The names of the symbols this expression uses."""
        return P.poly_symbols(self._p)

    def evaluate(self, sizes: Mapping[str, int]) -> int:
        """The value at integer ``sizes`` (one per symbol; extra names are ignored).

        Raises ValueError naming any missing symbol, a non-int size, or a division by zero.
        """
        missing = sorted(self.symbols - sizes.keys())
        if missing:
            raise ValueError(f"no size for {', '.join(map(repr, missing))} in {self}")
        for name in self.symbols:
            if not isinstance(sizes[name], int):
                raise ValueError(f"size of {name!r} must be an int, got {sizes[name]!r}")
        return _evaluate(self._p, sizes)

    def _points(self) -> tuple[int, int, int]:
        if self._pts is None:
            self._pts = _points(self._p)
        return self._pts

    def __str__(self) -> str:
        if self._str is None:
            self._str = poly_str(self._p)
        return self._str

    def __repr__(self) -> str:
        return f"Sym({str(self)!r})"

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (_unpickle, (str(self),))

    # -- equality -----------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if other is self:
            return True
        if isinstance(other, Sym):
            return _equal(self, other) is True
        if isinstance(other, int):
            return False  # a Sym is never a constant
        if isinstance(other, str):  # its text, as users write it: `shape == ("batch", 3)`
            try:
                theirs = parse(other)
            except ValueError:
                return False
            return isinstance(theirs, Sym) and _equal(self, theirs) is True
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(("Sym", self._points()))
        return self._hash

    def _refuse(self, other: object) -> bool:
        raise TypeError(
            f"cannot order symbolic dimension {self} against {other}: the answer depends on the sizes"
        )

    __lt__ = __le__ = __gt__ = __ge__ = _refuse

    def __bool__(self) -> bool:
        raise TypeError(f"the truth of symbolic dimension {self} depends on the sizes; compare with ==")

    # -- arithmetic ---------------------------------------------------------------------
    def __add__(self, other: Dim) -> Dim:
        return _wrap(P.padd(self._p, _poly(other)))

    __radd__ = __add__

    def __sub__(self, other: Dim) -> Dim:
        return _wrap(P.padd(self._p, _poly(other), -1))

    def __rsub__(self, other: Dim) -> Dim:
        return _wrap(P.padd(_poly(other), self._p, -1))

    def __mul__(self, other: Dim) -> Dim:
        return _wrap(P.pmul(self._p, _poly(other)))

    __rmul__ = __mul__

    def __neg__(self) -> Dim:
        return _wrap(P.pscale(self._p, -1))

    def __pos__(self) -> Sym:
        return self

    def __floordiv__(self, other: Dim) -> Dim:
        return _wrap(P.floordiv(self._p, _poly(other)))

    def __rfloordiv__(self, other: Dim) -> Dim:
        return _wrap(P.floordiv(_poly(other), self._p))

    def __mod__(self, other: Dim) -> Dim:
        q = _poly(other)
        return _wrap(P.padd(self._p, P.pmul(q, P.floordiv(self._p, q)), -1))

    def __rmod__(self, other: Dim) -> Dim:
        n = _poly(other)
        return _wrap(P.padd(n, P.pmul(self._p, P.floordiv(n, self._p)), -1))

    def __truediv__(self, other: object) -> Dim:
        raise TypeError(f"true division of dimension {self}: use // (floor) or ceil_div")

    __rtruediv__ = __truediv__


Dim: TypeAlias = int | Sym


def _poly(d: object) -> P.Poly:
    if isinstance(d, Sym):
        return d._p
    if isinstance(d, int):
        return P.const(d)
    raise TypeError(f"a dimension is an int or a Sym, got {type(d).__name__} {d!r}")


def _wrap(p: P.Poly) -> Dim:
    """The dim of canonical poly ``p``: an int when ``p`` is constant as a function."""
    c = P.constant_of(p)
    if c is not None:
        return c
    if not P.has_floor(p):
        return Sym._of(p)  # a non-constant polynomial over free atoms
    pts = _points(p)
    if all(v == pts[0] for v in pts) and is_zero(P.padd(p, P.const(pts[0]), -1)) is True:
        return pts[0]
    return Sym._of(p, pts)


# -- constructors ---------------------------------------------------------------------------
def sym(name: str) -> Sym:
    """The symbol ``name`` (an ASCII identifier that is not a Python keyword)."""
    if not (isinstance(name, str) and name.isidentifier() and name.isascii()) or keyword.iskeyword(name):
        raise ValueError(f"a symbol name must be an ASCII identifier, got {name!r}")
    return Sym._of(P.of_atom(P.sym_atom(name)))


def is_sym(d: object) -> bool:
    """Whether ``d`` is symbolic (a :class:`Sym`)."""
    return isinstance(d, Sym)


def as_dim(value: int | str | Sym) -> Dim:
    """A dim from an int, a Sym, or text (parsed with :func:`parse`); bools are refused."""
    if isinstance(value, bool):
        raise TypeError(f"a dimension cannot be a bool ({value!r})")
    if isinstance(value, (int, Sym)):
        return value
    if isinstance(value, str):
        return parse(value)
    raise TypeError(f"a dimension is an int, a Sym or text, got {type(value).__name__} {value!r}")


def min_dim(*dims: Dim) -> Dim:
    """``min`` of dims: ints fold, equal arguments merge; otherwise an opaque ``min(...)`` atom."""
    return _minmax(P.MIN, dims)


def max_dim(*dims: Dim) -> Dim:
    """``max`` of dims: ints fold, equal arguments merge; otherwise an opaque ``max(...)`` atom."""
    return _minmax(P.MAX, dims)


def _minmax(kind: int, dims: Iterable[Dim]) -> Dim:
    polys = [_poly(d) for d in dims]
    if not polys:
        raise ValueError(f"{'min' if kind == P.MIN else 'max'} of no dimensions")
    return _wrap(P.pminmax(kind, polys))


def ceil_div(a: Dim, b: Dim) -> Dim:
    """``ceil(a / b)`` for ``b > 0``: ``(a + b - 1) // b``. Raises ValueError for an int ``b <= 0``."""
    if isinstance(b, int) and b <= 0:
        raise ValueError(f"ceil_div needs a positive divisor, got {b}")
    return (a + b - 1) // b


# -- whole-dim functions ----------------------------------------------------------------------
def symbols(d: Dim) -> frozenset[str]:
    """The symbols ``d`` uses (empty for an int)."""
    return d.symbols if isinstance(d, Sym) else frozenset()


def evaluate(d: Dim, sizes: Mapping[str, int]) -> int:
    """``d`` at integer ``sizes`` (see :meth:`Sym.evaluate`); an int is returned as is."""
    return d.evaluate(sizes) if isinstance(d, Sym) else d


def subs(d: Dim, sizes: Mapping[str, Dim]) -> Dim:
    """``d`` with some symbols replaced by dims (ints or expressions), simplified.

    Symbols not in ``sizes`` stay; the result is an int once every symbol is sized.
    Raises ValueError on a division by zero that the substitution creates.
    """
    if not isinstance(d, Sym):
        return d
    images = {name: _poly(as_dim(v)) for name, v in sizes.items() if name in d.symbols}
    if not images:
        return d
    try:
        p = P.subst(d._p, lambda a: images.get(a.name) if a.kind == P.SYM else None)
    except ZeroDivisionError as e:
        raise ValueError(f"substituting into {d}: {e}") from None
    return _wrap(p)


def _unpickle(text: str) -> Dim:
    return parse(text, max_len=None)


# -- parsing ---------------------------------------------------------------------------------
def parse(text: str, *, max_len: int | None = MAX_TEXT) -> Dim:
    """Read a dim from text such as ``batch``, ``(h - 3) // 2 + 1``, ``2 * (seq // 2)``, ``64``.

    The text is parsed with :mod:`ast` and walked; nothing is evaluated by Python. Allowed:
    names, int literals, ``+ - * // %``, unary ``-``/``+``, parentheses and ``min(...)`` /
    ``max(...)``. Anything else, a division by zero, or text longer than ``max_len`` characters
    (400 by default, for text from users; None for none, e.g. to read back a long ``str(dim)``)
    raises ValueError.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse needs text, got {type(text).__name__}")
    if max_len is not None and len(text) > max_len:
        raise ValueError(f"dimension expression longer than {max_len} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        raise ValueError(f"cannot parse dimension {text!r}: {getattr(e, 'msg', e)}") from None
    try:
        return _walk(tree.body, text)
    except ZeroDivisionError:
        raise ValueError(f"division by zero in dimension {text!r}") from None
    except RecursionError:
        raise ValueError(f"dimension {text!r} is nested too deeply") from None


_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
}


def _walk(node: ast.AST, text: str) -> Dim:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Name):
        return sym(node.id)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _walk(node.left, text), _walk(node.right, text)
        if right == 0 and isinstance(node.op, ast.FloorDiv | ast.Mod):
            raise ZeroDivisionError
        result: Dim = _BINOPS[type(node.op)](left, right)
        return result
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _walk(node.operand, text)
        return -operand if isinstance(node.op, ast.USub) else operand
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("min", "max")
        and node.args
        and not node.keywords
        and not any(isinstance(a, ast.Starred) for a in node.args)
    ):
        args = [_walk(a, text) for a in node.args]
        return min_dim(*args) if node.func.id == "min" else max_dim(*args)
    what = ast.unparse(node) if isinstance(node, ast.expr) else type(node).__name__
    raise ValueError(
        f"unsupported syntax {what!r} in dimension {text!r}: only names, ints, + - * // %, "
        "parentheses and min/max are allowed"
    )


def decide_equal(a: Dim, b: Dim) -> bool | None:
    """Like ``a == b``, but None where the exact decision would exceed its work budget
    (``==`` then answers False). For callers that want to say "could not prove equal"."""
    if isinstance(a, Sym) and isinstance(b, Sym):
        return _equal(a, b)
    return a == b


def _equal(a: Sym, b: Sym) -> bool | None:
    if a._p == b._p:
        return True
    if not (P.has_floor(a._p) or P.has_floor(b._p)):
        return False  # distinct polynomials over free atoms differ somewhere
    if a._points() != b._points():
        return False
    return is_zero(P.padd(a._p, b._p, -1))
