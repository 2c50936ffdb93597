"""Deciding exactly whether a canonical form is identically zero.

The canonical form alone is not unique: ``(x + 1) // 2 + x // 2 - x`` is zero for every integer
``x`` although no rewrite rule cancels it. :func:`is_zero` decides such cases exactly for
*quasi-polynomials* (polynomials in symbols and floors by constant divisors, nested freely):

1. Opaque atoms (floor by a symbolic divisor, ``min``, ``max``) are replaced by fresh independent
   symbols. Identities that hold only because of what they compute (``min(x, y) + max(x, y) ==
   x + y``) are therefore not found: the answer is then "not zero", never a wrong "zero".
2. Pick a symbol ``x`` occurring inside a floor, and ``L`` a multiple of every divisor acting on it
   (for ``floor(N / k)``: ``k / gcd(c, k)`` times what ``N``'s own floors need, for each term
   ``c * m`` of ``N`` that involves ``x``). For each residue ``r`` in ``[0, L)``, substitute
   ``x = L*t + r``: the normal form of every floor pulls all of ``t`` out of it, so the result is
   a polynomial in ``t`` whose coefficients are quasi-polynomials without ``x`` or ``t``.
3. It is zero for all integer ``t`` iff each coefficient is; recurse on them (memoized).

A polynomial over the integers vanishing at every integer point is the zero polynomial, so the
procedure is exact. A quick evaluation at fixed points answers most "not zero" cases first.
The work is bounded: at most :data:`BUDGET` residue substitutions, and :data:`WORK` terms
substituted in all (a bound on time, about a second at worst). Past either bound the answer is
``None`` (undecided), which ``==`` treats as "not equal" (canonical comparison only): a
documented incompleteness that needs moduli (products of nested divisors) in the thousands or
very large expressions -- not what layer arithmetic produces.
"""

from __future__ import annotations

import math

from ._poly import (
    FLOOR,
    SYM,
    Atom,
    Poly,
    const,
    has_floor,
    of_atom,
    padd,
    poly_key,
    pscale,
    subst,
    sym_atom,
)
from ._values import points

BUDGET = 20_000  # residue substitutions per decision
WORK = 400_000  # terms substituted per decision (residues times the size of what is substituted into)
_T = "%t"  # the fresh variable; '%' keeps it apart from every user symbol


class _Undecided(Exception):
    pass


class _State:
    def __init__(self, budget: int) -> None:
        self.budget, self.work = budget, WORK
        self.memo: set[tuple] = set()
        self.needs: dict[Atom, dict[str, int]] = {}

    def spend(self, residues: int, terms: int) -> None:
        self.budget -= residues
        self.work -= residues * terms
        if self.budget < 0 or self.work < 0:
            raise _Undecided


def is_zero(p: Poly, budget: int = BUDGET) -> bool | None:
    """Whether ``p`` is 0 for all integer values of its symbols and opaque atoms; None if the
    decision would take more than ``budget`` substitutions."""
    if not p:
        return True
    if not has_floor(p):
        return False  # a non-zero polynomial over free atoms
    fresh: dict[Atom, Poly] = {}

    def free(a: Atom) -> Poly | None:
        if a.kind in (SYM, FLOOR):
            return None
        if a not in fresh:
            fresh[a] = of_atom(sym_atom(f"%o{len(fresh)}"))
        return fresh[a]

    try:
        return _zero(subst(p, free), _State(budget))
    except _Undecided:
        return None


def _atom_needs(a: Atom, state: _State) -> dict[str, int]:
    """For floor atom ``a``: per symbol, the modulus ``L`` that makes ``x = L*t + r`` pull ``t`` out."""
    got = state.needs.get(a)
    if got is None:
        got = {}
        for m, c in a.num.items():
            inner: dict[str, int] = {}
            for b, _ in m:
                if b.kind == SYM:
                    inner.setdefault(b.name, 1)
                elif b.kind == FLOOR:
                    for x, n in _atom_needs(b, state).items():
                        inner[x] = math.lcm(inner.get(x, 1), n)
                else:  # opaque atoms were replaced by fresh symbols
                    raise _Undecided
            f = a.div // math.gcd(c, a.div)
            for x, n in inner.items():
                got[x] = math.lcm(got.get(x, 1), n * f)
        state.needs[a] = got
    return got


def _by_power(p: Poly, t: Atom) -> dict[int, Poly]:
    """``p`` as a polynomial in ``t``: exponent -> coefficient poly (free of ``t``)."""
    out: dict[int, Poly] = {}
    for m, c in p.items():
        k = 0
        rest = []
        for a, e in m:
            if a is t:
                k = e
            elif _T in a.symbols:
                raise _Undecided  # t left inside a floor: cannot happen with a correct modulus
            else:
                rest.append((a, e))
        out.setdefault(k, {})[tuple(rest)] = c
    return out


def _zero(p: Poly, state: _State) -> bool:
    if not p:
        return True
    if not has_floor(p):
        return False
    if any(points(p)):
        return False
    key = poly_key(p)
    if key in state.memo:
        return True
    needs: dict[str, int] = {}
    for m in p:
        for a, _ in m:
            if a.kind == FLOOR:
                for x, n in _atom_needs(a, state).items():
                    needs[x] = math.lcm(needs.get(x, 1), n)
    x, modulus = min(needs.items(), key=lambda kv: (kv[1], kv[0]))
    state.spend(modulus, len(p))
    t = sym_atom(_T)
    for r in range(modulus):
        image = padd(pscale(of_atom(t), modulus), const(r))

        def put(a: Atom, image: Poly = image) -> Poly | None:
            return image if a.kind == SYM and a.name == x else None

        e = subst(p, put)
        for coef in _by_power(e, t).values():
            if not _zero(coef, state):
                return False
    state.memo.add(key)
    return True
