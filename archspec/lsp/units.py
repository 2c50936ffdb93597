"""The parts of a spec an error can be pinned to: units (blocks and models), their `layers:`
lists and entries, and which entries depend on which (read from the data as written).

Dependencies are over-approximated on purpose: an entry depends on an entry it names in
``inputs:`` or in a merge's list (``add: [a, b]``), whose shape it reads (``$a.shape[1]``), or
whose path it ties to (``tie: enc.embed``); an entry with no ``inputs:`` depends on the entry
before it (and on the one before that, and so on, past entries with a ``when:``, since the
condition may drop them). A reference that may be an automatic name (``relu2``) matches every
unnamed entry of that type.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from archspec.ir.graph import split_ref
from archspec.spec.loader import PathKey
from archspec.spec.model import ENTRY_KEYS

Unit = tuple[str, ...]  # () for a top-level model, ("models", M) or ("blocks", B)
_SHAPE_READ = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\.\s*shape\b")


def units(data: Any) -> list[Unit]:
    """Every unit of the spec data, in file order."""
    if not isinstance(data, dict):
        return []
    out: list[Unit] = []
    if isinstance(data.get("layers"), list) or isinstance(data.get("inputs"), dict):
        out.append(())
    for section in ("blocks", "models"):
        if isinstance(data.get(section), dict):
            out += [(section, name) for name in data[section]]
    return out


def at(data: Any, path: PathKey) -> Any:
    """The part of ``data`` at ``path`` (None where there is none)."""
    cur = data
    for part in path:
        if isinstance(cur, dict) and isinstance(part, str):
            cur = cur.get(part)
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            cur = cur[part]
        else:
            return None
    return cur


def unit_of(path: PathKey, data: Any) -> Unit | None:
    """The unit a path lies in (None for the top-level sections: vars, name, ...)."""
    if len(path) >= 2 and path[0] in ("blocks", "models") and isinstance(path[1], str):
        return (str(path[0]), path[1]) if isinstance(at(data, path[:1]), dict) else None
    if path and path[0] in ("inputs", "layers", "outputs") and "models" not in (data or {}):
        return ()
    return None


def entry_of(path: PathKey, data: Any) -> PathKey | None:
    """The path of the `layers:` entry that ``path`` lies in (None if it is in none)."""
    unit = unit_of(path, data)
    if unit is None:
        return None
    n = len(unit)
    if len(path) > n + 1 and path[n] == "layers" and isinstance(path[n + 1], int):
        return path[: n + 2]
    return None


def unit_of_entry(entry: PathKey) -> Unit:
    """The unit of an entry path (``entry_of``'s result)."""
    return tuple(str(p) for p in entry[:-2])


def entry_key(raw: Any) -> str | None:
    """An entry's type key: the bare name, or the one key that is not a common field."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, dict):
        keys = [k for k in raw if k not in ENTRY_KEYS]
        return keys[0] if len(keys) == 1 else None
    return None


def type_keys(raw: Any) -> list[str]:
    """Every key of an entry that may be its type (one, unless the entry is malformed)."""
    if isinstance(raw, str):
        return [raw]
    return [k for k in raw if k not in ENTRY_KEYS] if isinstance(raw, dict) else []


def entry_name(raw: Any) -> str | None:
    name = raw.get("name") if isinstance(raw, dict) else None
    return name if isinstance(name, str) else None


def entries(data: Any, unit: Unit) -> list[Any]:
    layers = at(data, (*unit, "layers"))
    return layers if isinstance(layers, list) else []


def names_match(ref: str, raw: Any) -> bool:
    """Whether a reference's node name may name this entry: its name, an automatic one, or, for
    an entry whose form is broken (``{nme: a, linear: 4}``), any string or key in it."""
    name = entry_name(raw)
    if name is not None:
        return ref == name
    if isinstance(raw, str):
        return _automatic(ref, raw)
    if not isinstance(raw, dict):
        return False  # a null or list entry: it names nothing
    keys = [k for k in raw if k not in ENTRY_KEYS]
    if len(keys) == 1 and "name" not in raw:
        return _automatic(ref, keys[0])
    return ref in raw or ref in set(strings(raw)) or any(_automatic(ref, k) for k in keys)


def _automatic(ref: str, key: str) -> bool:
    """Whether ``ref`` may be an automatic name of an entry of type ``key`` (``relu2``)."""
    base = key if key[-1:].isalpha() else key + "_"
    return ref.startswith(base) and ref[len(base) :].isdigit()


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)


def merge_inputs(raw: Any) -> list[str] | None:
    """A merge layer's inputs given as its value (``add: [a, b]``), as the elaborator reads them."""
    key = entry_key(raw)
    if not isinstance(raw, dict) or key is None or not isinstance(raw.get(key), list):
        return None
    from archspec.layers import registry

    layer = registry().get(key)
    if layer is None or layer.max_inputs == 1:
        return None
    return [r for r in raw[key] if isinstance(r, str)]


def references(raw: Any) -> tuple[list[str] | None, bool]:
    """The node names an entry reads (None: it takes the previous entry), and whether its
    inputs are an expression (then it may read any entry of its list)."""
    if not isinstance(raw, dict):
        return None, False
    key = entry_key(raw)
    reads: set[str] = set()
    for text in strings(raw.get(key) if key else None):
        if text.startswith("$"):
            reads |= set(_SHAPE_READ.findall(text))
    given = raw.get("inputs")
    if given is None:
        given = merge_inputs(raw)
    if isinstance(given, str) and given.startswith("$"):
        return sorted(reads), True
    if given is None:
        return (sorted(reads) if reads else None), False
    refs = [given] if isinstance(given, str) else [r for r in given if isinstance(r, str)]
    return sorted(reads | {split_ref(r)[0] for r in refs}), False


def tie_parts(raw: Any) -> list[str]:
    tie = raw.get("tie") if isinstance(raw, dict) else None
    return tie.split(".") if isinstance(tie, str) else []


def dependents(layers: list[Any], seeds: set[int], off: set[int]) -> set[int]:
    """``seeds`` and every entry of ``layers`` that depends on one of them (transitively);
    entries in ``off`` are already switched off (and count as depended on)."""
    gone = set(seeds) | set(off)
    changed = True
    while changed:
        changed = False
        for j, raw in enumerate(layers):
            if j in gone:
                continue
            if _depends(layers, j, raw, gone):
                gone.add(j)
                changed = True
    return gone - set(off)


def _depends(layers: list[Any], j: int, raw: Any, gone: set[int]) -> bool:
    refs, any_ref = references(raw)
    if any_ref:
        return bool(gone)
    given = isinstance(raw, dict) and (raw.get("inputs") is not None or merge_inputs(raw) is not None)
    if not given:
        k = j - 1
        while k >= 0:  # the previous entry, or an earlier one where a `when:` may drop it
            if k in gone:
                return True
            if not (isinstance(layers[k], dict) and "when" in layers[k]):
                break
            k -= 1
    return any(names_match(ref, layers[i]) for ref in refs or [] for i in gone if 0 <= i < len(layers))


def outputs_touched(data: Any, unit: Unit, gone: set[int]) -> bool:
    """Whether switching off entries ``gone`` may change what the unit outputs."""
    if not gone:
        return False
    outputs = at(data, (*unit, "outputs"))
    if outputs is None:
        return True
    layers = entries(data, unit)
    refs = [outputs] if isinstance(outputs, str) else [r for r in outputs if isinstance(r, str)]
    return any(names_match(split_ref(r)[0], layers[i]) for r in refs for i in gone if i < len(layers))
