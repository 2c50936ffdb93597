"""Layer entries, read once: each item of a `layers:` list becomes a typed ``Entry``.

An entry is ``- relu`` (a bare type), ``- {linear: 64}`` (a type and its value), or a mapping
with one type key and the common fields (``name``, ``inputs``, ``repeat``...). Reading checks
the shape of the entry; the values stay unevaluated (``$expressions`` are evaluated during
elaboration, where their scope is known).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from archspec.errors import ArchspecError, ErrorCode, Loc, did_you_mean
from archspec.spec.loader import PathKey, Source
from archspec.spec.model import ENTRY_KEYS

# the fields whose values may be `$expressions` (evaluated in the entry's scope)
EVALUATED = ("inputs", "trainable", "init", "repeat", "when", "tie", "regularizer")


@dataclass(frozen=True)
class Entry:
    """One item of a `layers:` list, as written."""

    key: str  # the type: a layer type, a block or a model ("$..." when given as an expression)
    value: Any  # the type key's value (None for a bare name)
    fields: dict[str, Any]  # the common fields as written (unevaluated)
    path: PathKey
    loc: Loc | None

    @property
    def name(self) -> str | None:
        name = self.fields.get("name")
        return name if isinstance(name, str) else None


def read_entries(
    raw_layers: list[Any], path: PathKey, src: Source, is_type: Callable[[str], bool], all_types: list[str]
) -> list[Entry]:
    """Read every entry of a `layers:` list (``path`` is the list's path)."""
    return [read_entry(raw, (*path, i), src, is_type, all_types) for i, raw in enumerate(raw_layers)]


def read_entry(
    raw: Any, path: PathKey, src: Source, is_type: Callable[[str], bool], all_types: list[str]
) -> Entry:
    loc = src.loc(path)
    if isinstance(raw, str):
        return Entry(raw, None, {}, path, loc)
    if not isinstance(raw, dict):
        raise ArchspecError(
            "schema",
            f"a layer entry must be a name or a mapping, not {type(raw).__name__}",
            loc=loc,
            hint="write `- relu` or `- {linear: 64}`",
        )
    keys = [k for k in raw if k not in ENTRY_KEYS]
    if len(keys) != 1:
        _bad_keys(raw, keys, path, src, is_type, all_types)
    key = keys[0]
    fields = {k: v for k, v in raw.items() if k != key}
    return Entry(key, raw[key], fields, path, src.loc((*path, key)) or loc)


def _bad_keys(
    raw: dict[str, Any],
    keys: list[str],
    path: PathKey,
    src: Source,
    is_type: Callable[[str], bool],
    all_types: list[str],
) -> NoReturn:
    if not keys:
        raise ArchspecError(
            "schema",
            "this layer entry has no layer type",
            loc=src.loc(path),
            hint="add a type key such as `linear: 64`, or the name of a block",
        )
    known = [k for k in keys if is_type(k)]
    unknown = [k for k in keys if not is_type(k)]
    bad = unknown[0] if unknown else keys[1]
    hint = did_you_mean(bad, ENTRY_KEYS) if unknown else None
    code: ErrorCode
    if known and unknown:
        msg = f"unknown field '{bad}' beside layer type '{known[0]}'"
        code = "unknown-field"
    elif unknown:
        msg, code = f"unknown layer type '{bad}'", "unknown-layer"
        hint = hint or did_you_mean(bad, all_types)
    else:
        msg, code = f"a layer entry has two types, '{keys[0]}' and '{keys[1]}'", "schema"
        hint = "write each layer as its own list item"
    raise ArchspecError(code, msg, loc=src.loc((*path, bad)), hint=hint)
