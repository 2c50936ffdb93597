"""The raw canonical form under :class:`~archspec.shapes.symbolic.Sym` (private).

A *poly* is a ``dict`` mapping a *monomial* to a non-zero ``int`` coefficient; the constant
term's monomial is ``()``. A monomial is a tuple of ``(atom, exponent)`` pairs sorted by the
atoms' keys. An *atom* is a symbol or one of four kinds of integer-valued function:

- ``FLOOR``: ``num // div`` with ``div >= 2`` an int, in normal form (see :func:`pfloor`);
- ``SFLOOR``: ``num // den`` with a non-constant poly ``den`` (opaque, compared structurally);
- ``MIN`` / ``MAX`` of two or more polys (opaque, compared structurally).

Polys handed out are never mutated afterwards; every function returns a fresh dict or one of
its arguments unchanged. Nothing here knows about ``Sym``: the decision procedure works on
these dicts directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

SYM, FLOOR, SFLOOR, MIN, MAX = range(5)
MAX_TERMS = 2000  # a product with more terms than this is refused (no shape needs it)

Key = tuple  # nested tuples of ints and strings: sortable and hashable
Mono = tuple[tuple["Atom", int], ...]
Poly = dict[Mono, int]


class TooLarge(ValueError):
    """An expression grew past :data:`MAX_TERMS` terms."""


class Atom:
    """One indivisible factor of a monomial; compared and hashed by its structural ``key``."""

    __slots__ = ("_hash", "_pv", "args", "den", "div", "key", "kind", "name", "num", "symbols")

    def __init__(self, kind: int, key: Key, symbols: frozenset[str]) -> None:
        self.kind, self.key, self.symbols = kind, key, symbols
        self._hash = hash(key)
        self._pv: tuple[int, int, int] | None = None  # values at the fixed points (see _values)
        self.name = ""
        self.num: Poly = {}
        self.den: Poly = {}
        self.div = 0
        self.args: tuple[Poly, ...] = ()

    def __eq__(self, other: object) -> bool:
        return self is other or (
            isinstance(other, Atom) and self._hash == other._hash and self.key == other.key
        )

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"Atom{self.key!r}"


_SYMBOLS: dict[str, Atom] = {}


def sym_atom(name: str) -> Atom:
    """The atom of symbol ``name`` (shared: one object per name)."""
    atom = _SYMBOLS.get(name)
    if atom is None:
        atom = Atom(SYM, (SYM, name), frozenset((name,)))
        atom.name = name
        if len(_SYMBOLS) < 100_000:
            _SYMBOLS[name] = atom
    return atom


def mono_key(m: Mono) -> Key:
    return tuple((a.key, e) for a, e in m)


def poly_key(p: Poly) -> Key:
    """A structural key: equal keys mean identical canonical forms."""
    return tuple(sorted((mono_key(m), c) for m, c in p.items()))


def poly_symbols(p: Poly) -> frozenset[str]:
    out: frozenset[str] = frozenset()
    for m in p:
        for a, _ in m:
            out |= a.symbols
    return out


_ATOMS: dict[Key, Atom] = {}  # interned compound atoms: shared objects keep their cached points


def _atom(kind: int, key: Key, symbols: Callable[[], frozenset[str]]) -> tuple[Atom, bool]:
    """The atom with ``key``, and whether it is new (then the caller fills in its parts)."""
    atom = _ATOMS.get(key)
    if atom is not None:
        return atom, False
    if len(_ATOMS) >= 50_000:
        _ATOMS.clear()
    atom = _ATOMS[key] = Atom(kind, key, symbols())
    return atom, True


def floor_atom(num: Poly, div: int) -> Atom:
    atom, new = _atom(FLOOR, (FLOOR, poly_key(num), div), lambda: poly_symbols(num))
    if new:
        atom.num, atom.div = num, div
    return atom


def const(c: int) -> Poly:
    return {(): c} if c else {}


def of_atom(a: Atom) -> Poly:
    return {((a, 1),): 1}


def constant_of(p: Poly) -> int | None:
    """The value of ``p`` if it is a constant, else None."""
    if not p:
        return 0
    if len(p) == 1 and () in p:
        return p[()]
    return None


def padd(p: Poly, q: Poly, scale: int = 1) -> Poly:
    """``p + scale * q``."""
    if not q or not scale:
        return p
    out = dict(p)
    for m, c in q.items():
        v = out.get(m, 0) + scale * c
        if v:
            out[m] = v
        else:
            out.pop(m, None)
    return out


def pscale(p: Poly, c: int) -> Poly:
    return {m: v * c for m, v in p.items()} if c else {}


def _akey(ae: tuple[Atom, int]) -> Key:
    return ae[0].key


def mono_mul(m1: Mono, m2: Mono) -> Mono:
    if not m1:
        return m2
    if not m2:
        return m1
    exps = dict(m1)
    for a, e in m2:
        exps[a] = exps.get(a, 0) + e
    return tuple(sorted(exps.items(), key=_akey))


def pmul(p: Poly, q: Poly) -> Poly:
    """``p * q``; raises :class:`TooLarge` past :data:`MAX_TERMS` terms."""
    if len(p) * len(q) > MAX_TERMS * 4:
        raise TooLarge(f"dimension expression too large (a product of {len(p)} and {len(q)} terms)")
    out: Poly = {}
    for m1, c1 in p.items():
        for m2, c2 in q.items():
            m = mono_mul(m1, m2)
            v = out.get(m, 0) + c1 * c2
            if v:
                out[m] = v
            else:
                out.pop(m, None)
    if len(out) > MAX_TERMS:
        raise TooLarge(f"dimension expression too large (over {MAX_TERMS} terms)")
    return out


def pfloor(p: Poly, k: int) -> Poly:
    """``floor(p / k)`` for an int ``k != 0``, normalized.

    With ``p = k*Q + R`` where every coefficient of ``R`` lies in ``[0, k)``, the result is
    ``Q + floor(R / k)``. The gcd ``g`` of ``k`` and ``R``'s non-constant coefficients is divided
    out (``floor((g*A + c) / (g*k')) == floor((A + c // g) / k')``), and a remainder that is a
    single floor atom collapses (``floor((x // a + c) / b) == floor((x + a*c) / (a*b))``).
    """
    if k < 0:
        p, k = pscale(p, -1), -k
    if k == 1:
        return p
    quot: Poly = {}
    rem: Poly = {}
    for m, v in p.items():
        q, r = divmod(v, k)
        if q:
            quot[m] = q
        if r:
            rem[m] = r
    c = rem.pop((), 0)
    if not rem:  # floor(c / k) == 0 for 0 <= c < k
        return quot
    g = math.gcd(k, *rem.values())
    if g > 1:
        rem = {m: v // g for m, v in rem.items()}
        k, c = k // g, c // g
    if len(rem) == 1:
        ((m, v),) = rem.items()
        if v == 1 and len(m) == 1 and m[0][1] == 1 and m[0][0].kind == FLOOR:
            inner = m[0][0]
            return padd(quot, pfloor(padd(inner.num, const(c * inner.div)), inner.div * k))
    if c:
        rem[()] = c
    return padd(quot, of_atom(floor_atom(rem, k)))


def _exact_div(n: Poly, d: Poly) -> Poly | None:
    """``n / d`` when ``d`` is one term dividing every term of ``n``, or ``n`` is a multiple of ``d``."""
    if not n:
        return {}
    if len(d) == 1:
        ((dm, dc),) = d.items()
        dexp = dict(dm)
        out: Poly = {}
        for m, c in n.items():
            exps = dict(m)
            if c % dc or any(exps.get(a, 0) < e for a, e in dexp.items()):
                return None
            for a, e in dexp.items():
                exps[a] -= e
            out[tuple(sorted(((a, e) for a, e in exps.items() if e), key=_akey))] = c // dc
        return out
    if len(n) != len(d):
        return None
    m0, c0 = next(iter(d.items()))
    ratio, rest = divmod(n.get(m0, 0), c0)
    if rest or not ratio or any(n.get(m, 0) != ratio * c for m, c in d.items()):
        return None
    return const(ratio)


def psfloor(n: Poly, d: Poly) -> Poly:
    """``floor(n / d)`` for a non-constant ``d``: exact quotients simplify, the rest is opaque."""
    exact = _exact_div(n, d)
    if exact is not None:
        return exact
    first = min((m for m in d if m), key=mono_key)
    if d[first] < 0:  # floor(n / d) == floor(-n / -d): the divisor's first variable term is positive
        n, d = pscale(n, -1), pscale(d, -1)
    atom, new = _atom(SFLOOR, (SFLOOR, poly_key(n), poly_key(d)), lambda: poly_symbols(n) | poly_symbols(d))
    if new:
        atom.num, atom.den = n, d
    return of_atom(atom)


def pminmax(kind: int, args: Iterable[Poly]) -> Poly:
    """``min``/``max`` (``kind`` MIN or MAX) of polys: constants fold, duplicates and nesting merge."""
    pick = min if kind == MIN else max
    consts: list[int] = []
    rest: dict[Key, Poly] = {}
    for p in args:
        c = constant_of(p)
        if c is not None:
            consts.append(c)
            continue
        if len(p) == 1:
            ((m, v),) = p.items()
            if v == 1 and len(m) == 1 and m[0][1] == 1 and m[0][0].kind == kind:
                for inner in m[0][0].args:
                    c = constant_of(inner)
                    if c is None:
                        rest[poly_key(inner)] = inner
                    else:
                        consts.append(c)
                continue
        rest[poly_key(p)] = p
    if consts:
        c = pick(consts)
        rest[poly_key(const(c))] = const(c)
    if len(rest) == 1:
        return next(iter(rest.values()))
    keys = sorted(rest)
    atom, new = _atom(kind, (kind, tuple(keys)), lambda: frozenset().union(*map(poly_symbols, rest.values())))
    if new:
        atom.args = tuple(rest[k] for k in keys)
    return of_atom(atom)


def subst(p: Poly, atom_map: Callable[[Atom], Poly | None], cache: dict[Atom, Poly] | None = None) -> Poly:
    """``p`` with atoms replaced: ``atom_map(a)`` gives a poly for ``a``, or None to rebuild ``a``
    from its substituted parts (and normalize again)."""
    cache = {} if cache is None else cache

    def image(a: Atom) -> Poly:
        got = cache.get(a)
        if got is None:
            got = atom_map(a)
            if got is None:
                if a.kind == SYM:
                    got = of_atom(a)
                elif a.kind == FLOOR:
                    got = pfloor(subst(a.num, atom_map, cache), a.div)
                elif a.kind == SFLOOR:
                    got = floordiv(subst(a.num, atom_map, cache), subst(a.den, atom_map, cache))
                else:
                    got = pminmax(a.kind, [subst(x, atom_map, cache) for x in a.args])
            cache[a] = got
        return got

    out: Poly = {}
    for m, c in p.items():
        term = const(c)
        for a, e in m:
            img = image(a)
            for _ in range(e):
                term = pmul(term, img)
        out = padd(out, term)
    return out


def floordiv(n: Poly, d: Poly) -> Poly:
    """``floor(n / d)`` for any polys; raises ZeroDivisionError when ``d`` is 0."""
    k = constant_of(d)
    if k == 0:
        raise ZeroDivisionError("floor division of a dimension by zero")
    return pfloor(n, k) if k is not None else psfloor(n, d)


def has_floor(p: Poly) -> bool:
    """Whether ``p`` has a constant-divisor floor atom at its top level."""
    return any(a.kind == FLOOR for m in p for a, _ in m)
