"""Printing the canonical form as Python-like text that :func:`~archspec.shapes.parse` reads back.

Rules: terms in a fixed order (higher degree first, then by structure), positive terms before
negative ones, the constant last -- except that a positive constant leads when every other term
is negative (``7 - h``). Coefficients print as ``2 * h``; a floor atom is parenthesized whenever
it is a factor of a product or follows a leading minus (``2 * (seq // 2)``, ``-(h // 2)``), and
its numerator or divisor is parenthesized unless it is a single symbol or ``min``/``max`` call.
"""

from __future__ import annotations

from ._poly import FLOOR, MAX, MIN, SFLOOR, SYM, Atom, Mono, Poly, mono_key


def _order(m: Mono) -> tuple[int, tuple]:
    return (-sum(e for _, e in m), mono_key(m))


def _simple(p: Poly) -> bool:
    """Whether ``p`` prints as one name or call (needs no parentheses as an operand of ``//``)."""
    if len(p) != 1:
        return False
    ((m, c),) = p.items()
    if not m:
        return c > 0
    return c == 1 and len(m) == 1 and m[0][1] == 1 and m[0][0].kind in (SYM, MIN, MAX)


def _operand(p: Poly) -> str:
    text = poly_str(p)
    return text if _simple(p) else f"({text})"


def atom_str(a: Atom, wrap: bool) -> str:
    """Text of one atom; ``wrap`` parenthesizes a floor (when it is a product factor)."""
    if a.kind == SYM:
        return a.name
    if a.kind in (FLOOR, SFLOOR):
        den = str(a.div) if a.kind == FLOOR else _operand(a.den)
        text = f"{_operand(a.num)} // {den}"
        return f"({text})" if wrap else text
    name = "min" if a.kind == MIN else "max"
    return f"{name}({', '.join(poly_str(x) for x in a.args)})"


def _term_str(m: Mono, c: int, lead_minus: bool) -> str:
    factors = [a for a, e in m for _ in range(e)]
    wrap = len(factors) > 1 or c != 1 or lead_minus
    parts = ([str(c)] if c != 1 else []) + [atom_str(a, wrap) for a in factors]
    return " * ".join(parts)


def poly_str(p: Poly) -> str:
    """The canonical text of ``p``."""
    if not p:
        return "0"
    terms = sorted((m for m in p if m), key=_order)
    pos = [(m, p[m]) for m in terms if p[m] > 0]
    neg = [(m, p[m]) for m in terms if p[m] < 0]
    c = p.get((), 0)
    seq: list[tuple[Mono, int]] = pos + neg
    if c:
        if c > 0 and not pos:
            seq.insert(0, ((), c))
        else:
            seq.append(((), c))
    out: list[str] = []
    for i, (m, v) in enumerate(seq):
        body = str(abs(v)) if not m else _term_str(m, abs(v), i == 0 and v < 0)
        if i == 0:
            out.append(f"-{body}" if v < 0 else body)
        else:
            out.append(f" - {body}" if v < 0 else f" + {body}")
    return "".join(out)
