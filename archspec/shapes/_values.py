"""Values of canonical forms: at given sizes, and at the fixed points behind hashing (private).

The fixed points give every *free* atom (a symbol, or an opaque atom: a floor by a symbolic
divisor, ``min``, ``max``) a deterministic pseudo-random value derived from its text, and
compute floors by constants exactly. Two forms equal as functions of their free atoms -- the
meaning of ``==`` -- therefore have the same values there, whatever the atoms compute.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping

from ._poly import FLOOR, MIN, SFLOOR, SYM, Atom, Poly

NPOINTS = 3  # fixed evaluation points behind hashing and the quick inequality test


def peval(p: Poly, value: Callable[[Atom], int]) -> int:
    """The value of ``p`` with each atom's value given by ``value``."""
    total = 0
    for m, c in p.items():
        for a, e in m:
            c *= value(a) ** e if e != 1 else value(a)
        total += c
    return total


def seed_value(text: str, i: int) -> int:
    """A deterministic pseudo-random value in ``[1009, 1009 + 2**20)`` for atom ``text`` at point ``i``."""
    return 1009 + (zlib.crc32(f"{i}:{text}".encode()) & 0xFFFFF)


def atom_points(a: Atom) -> tuple[int, int, int]:
    """The atom's values at the fixed points: symbols and opaque atoms are free (seeded values),
    constant-divisor floors are computed from their numerators."""
    pv = a._pv
    if pv is None:
        if a.kind == FLOOR:
            n0, n1, n2 = points(a.num)
            pv = (n0 // a.div, n1 // a.div, n2 // a.div)
        else:
            text = a.name if a.kind == SYM else repr(a.key)
            pv = (seed_value(text, 0), seed_value(text, 1), seed_value(text, 2))
        a._pv = pv
    return pv


def points(p: Poly) -> tuple[int, int, int]:
    """``p`` at the :data:`NPOINTS` (3) fixed points (equal functions give equal tuples)."""
    s0 = s1 = s2 = 0
    for m, c in p.items():
        v0 = v1 = v2 = c
        for a, e in m:
            p0, p1, p2 = a._pv or atom_points(a)
            if e == 1:
                v0, v1, v2 = v0 * p0, v1 * p1, v2 * p2
            else:
                v0, v1, v2 = v0 * p0**e, v1 * p1**e, v2 * p2**e
        s0, s1, s2 = s0 + v0, s1 + v1, s2 + v2
    return (s0, s1, s2)


def evaluate(p: Poly, sizes: Mapping[str, int]) -> int:
    """``p`` at integer symbol values (all its symbols must be in ``sizes``)."""
    cache: dict[Atom, int] = {}

    def value(a: Atom) -> int:
        v = cache.get(a)
        if v is None:
            if a.kind == SYM:
                v = sizes[a.name]
            elif a.kind == FLOOR:
                v = evaluate(a.num, sizes) // a.div
            elif a.kind == SFLOOR:
                den = evaluate(a.den, sizes)
                if den == 0:
                    raise ValueError("division by zero in a symbolic dimension")
                v = evaluate(a.num, sizes) // den
            else:
                v = (min if a.kind == MIN else max)(evaluate(x, sizes) for x in a.args)
            cache[a] = v
        return v

    return peval(p, value)
