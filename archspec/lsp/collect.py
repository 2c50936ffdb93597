"""Diagnostics for editors: every independent error of a spec, not only the first.

``archspec check`` stops at the first error. An editor wants every error it can trust, so
``check_text`` runs the same pipeline (``archspec.spec`` then ``passes.check_spec``) again and
again, each time with what failed switched off, and keeps an error only where it cannot be a
follow-on of an earlier one. The rule (docs/editors.md says it for users):

1. The first error is the one ``archspec check`` reports, always kept. Syntax errors (the text
   is not YAML/JSON) and spec-wide ones (``vars:``, the node budget) end the collection.
2. An error is pinned to the `layers:` entry it is located at. That entry is switched off (as
   if it said ``when: false``), and with it every entry that depends on it (``units.py``: reads
   its output, directly or through the implicit chain, reads its shape, or ties to it). If that
   may change what its block or model outputs, every entry that uses the block or model is
   switched off too, with its dependents, and so on. An error located in a block's or model's
   own fields (outside any entry) switches the whole block or model off the same way.
3. The pipeline runs again. What it reports now comes from entries whose inputs and settings
   are exactly as written, so it is kept, except where switching entries off can itself cause
   it: an unused node or input, or an undefined reference that may be an automatic name, in a
   block or model where entries were switched off. Such an error is not shown; what it points
   at is switched off silently and the collection goes on.
4. Entries that were switched off only because they depend on an error (not those that failed)
   are then checked alone for what does not depend on their inputs: the entry's form, its type
   (a layer, block or model), its common fields and, for a layer, its settings. Only entries
   with no ``$expression`` and no ``when:`` are checked so, since their values need a scope.
5. At most ``MAX_PROBLEMS`` errors, ``MAX_RUNS`` pipeline runs and ``BUDGET_S`` seconds.

The last run that passes gives the spec that hover and go-to-definition read (with the
switched-off entries missing).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from archspec import passes
from archspec.errors import ArchspecError, did_you_mean
from archspec.ir.graph import split_ref
from archspec.lsp import units as u
from archspec.lsp.textindex import Span, TextIndex, build_index, token_span
from archspec.spec import DEFAULT_MODEL, Spec, _ident, from_source
from archspec.spec.loader import PathKey, Source
from archspec.spec.loader import load_text as parse_text

MAX_PROBLEMS = 25
MAX_RUNS = 60
BUDGET_S = 3.0
STOP_CODES = frozenset({"syntax", "limit", "too-deep", "file-too-large", "no-model", "dim-size"})
STUB: dict[str, Any] = {"identity": None, "when": False}  # an entry that is never elaborated


@dataclass(frozen=True)
class Problem:
    """One diagnostic: an ArchspecError's code and text, and its range in the document."""

    code: str
    message: str
    span: Span
    error: ArchspecError | None = None


@dataclass
class Checked:
    """What the editor features read about one version of a document."""

    text: str
    problems: list[Problem]
    source: Source | None = None  # the document as parsed (None: not YAML/JSON)
    index: TextIndex | None = None
    spec: Spec | None = None  # the last spec that passed every check (failing parts switched off)
    off: dict[PathKey, str] = field(default_factory=dict)  # switched-off entry -> why
    runs: int = 0


def message_of(e: ArchspecError) -> str:
    lines = [(f"node '{e.node}': " if e.node else "") + e.message]
    if e.expected is not None:
        lines.append(f"expected: {e.expected}")
    if e.got is not None:
        lines.append(f"got: {e.got}")
    if e.hint:
        lines.append(f"hint: {e.hint}")
    return "\n".join(lines)


def check_text(text: str, name: str = "<string>", fmt: str | None = None) -> Checked:
    """Every error of the spec text that can be trusted (see the module's rule)."""
    lines = text.splitlines(keepends=True) or [""]
    try:
        src = parse_text(text, name, fmt)
    except ArchspecError as e:
        pos = (e.loc.line - 1, e.loc.col - 1) if e.loc else (0, 0)
        return Checked(text, [Problem(e.code, message_of(e), token_span(lines, pos), e)])
    except Exception as bug:  # text no loader should see (lone surrogates from a JSON client)
        return Checked(text, [_internal(bug, lines)])
    index = build_index(text)
    c = _Collector(src)
    checked = Checked(text, [], src, index)
    seen: set[tuple[str, int, int]] = set()
    start = time.monotonic()
    while c.runs < MAX_RUNS and time.monotonic() - start < BUDGET_S:
        try:
            checked.spec = c.run()
            break
        except ArchspecError as e:
            path = c.path_of(e)
            where = (e.code, e.loc.line, e.loc.col) if e.loc else (e.code, 0, 0)
            if where in seen:
                break
            seen.add(where)
            if not c.changed or c.credible(e, path):
                checked.problems.append(_problem(e, index, text))
                if path is not None and (entry := u.entry_of(path, src.data)) is not None:
                    c.failed.add(entry)
            if len(checked.problems) >= MAX_PROBLEMS or not c.neutralise(e, path):
                break
        except Exception as bug:  # a bug in archspec: say so once, never crash the editor
            checked.problems.append(_internal(bug, lines))
            break
    seen_spans = {p.span for p in checked.problems}
    for alone in c.alone():
        p = _problem(alone, index, text)
        if p.span not in seen_spans and len(checked.problems) < MAX_PROBLEMS:
            checked.problems.append(p)
            seen_spans.add(p.span)
    checked.off, checked.runs = c.reasons(), c.runs
    return checked


def _internal(bug: Exception, lines: list[str]) -> Problem:
    message = f"internal error: {type(bug).__name__}: {bug}"
    return Problem("internal", message + "\nhint: this is a bug in archspec", token_span(lines, (0, 0)))


def _problem(e: ArchspecError, index: TextIndex | None, text: str) -> Problem:
    if index is not None:
        return Problem(e.code, message_of(e), index.span_of(e.loc), e)
    pos = (e.loc.line - 1, e.loc.col - 1) if e.loc else (0, 0)
    return Problem(e.code, message_of(e), token_span(text.splitlines(keepends=True) or [""], pos), e)


class _Collector:
    """The document's data with failing parts switched off, and the runs over it."""

    def __init__(self, src: Source) -> None:
        self.src = src
        self.data = copy.deepcopy(src.data)
        self.off: dict[u.Unit, set[int]] = {}
        self.failed: set[PathKey] = set()
        self.dead: set[u.Unit] = set()
        self.touched: set[u.Unit] = set()  # units with entries or outputs switched off
        self.changed = False
        self.stop = False
        self.runs = 0
        self.by_loc: dict[tuple[int, int], PathKey] = {}
        for table in (src.values, src.keys):
            for path, loc in table.items():
                best = self.by_loc.get((loc.line, loc.col))
                if best is None or len(path) > len(best):
                    self.by_loc[(loc.line, loc.col)] = path

    def run(self) -> Spec:
        self.runs += 1
        spec = from_source(Source(self.data, self.src.file, self.src.keys, self.src.values))
        passes.check_spec(spec)
        return spec

    def path_of(self, e: ArchspecError) -> PathKey | None:
        return self.by_loc.get((e.loc.line, e.loc.col)) if e.loc else None

    def layers(self, unit: u.Unit) -> list[Any]:
        """The unit's entries as written (names and references are read from these)."""
        return u.entries(self.src.data, unit)

    # what a later run reports --------------------------------------------------------------

    def credible(self, e: ArchspecError, path: PathKey | None) -> bool:
        """Whether an error of a later run cannot be a follow-on of switching entries off."""
        if path is None:
            return False
        unit = u.unit_of(path, self.src.data)
        touched = unit in self.touched
        if e.code == "unused-node":
            return (
                u.entry_of(path, self.src.data) is not None and not touched and e.message.startswith("node")
            )
        if e.code == "undefined-reference" and touched and unit is not None:
            ref = split_ref(e.message.split("'")[1] if "'" in e.message else "")[0]
            layers = self.layers(unit)
            gone = self.off.get(unit, set())
            auto = any(u.names_match(ref, raw) and u.entry_name(raw) is None for raw in layers)
            return not auto and not any(u.names_match(ref, layers[i]) for i in gone if i < len(layers))
        return True

    # switching parts off -------------------------------------------------------------------

    def neutralise(self, e: ArchspecError, path: PathKey | None) -> bool:
        """Switch off what ``e`` is pinned to; False where nothing can be (then stop)."""
        if e.code in STOP_CODES or path is None:
            return False
        self.changed = True
        entry = u.entry_of(path, self.src.data)
        unit = u.unit_of(path, self.src.data)
        if unit is None or unit in self.dead:
            return False
        if entry is not None:
            index = entry[-1]
            assert isinstance(index, int)
            self.switch_off(unit, {index})
        elif len(path) > len(unit) and path[len(unit)] == "outputs":
            self._drop_outputs(unit)
            self.kill_users(unit)
        else:
            self.kill(unit)
        return not self.stop

    def switch_off(self, unit: u.Unit, seeds: set[int]) -> None:
        layers = self.layers(unit)
        done = self.off.setdefault(unit, set())
        new = u.dependents(layers, seeds, done)
        if not new:
            return
        live = u.entries(self.data, unit)
        for i in new:
            if i < len(live):
                live[i] = dict(STUB)
        done |= new
        self.touched.add(unit)
        gone = [layers[i] for i in new if i < len(layers)]
        for other in u.units(self.src.data):  # entries that tie to a switched-off one
            tied = {
                j
                for j, raw in enumerate(self.layers(other))
                if any(u.names_match(part, g) for part in u.tie_parts(raw) for g in gone)
            }
            if tied and other not in self.dead:
                self.switch_off(other, tied)
        if len(done) >= len(layers):
            self.kill(unit)
        elif u.outputs_touched(self.src.data, unit, done):
            self._drop_outputs(unit)
            self.kill_users(unit)

    def _drop_outputs(self, unit: u.Unit) -> None:
        self.touched.add(unit)
        holder = u.at(self.data, unit)
        if isinstance(holder, dict):
            holder.pop("outputs", None)

    def kill(self, unit: u.Unit) -> None:
        """Switch a whole block or model off (the top-level model cannot be: stop there)."""
        if not unit:
            self.stop = True
            return
        if unit in self.dead:
            return
        self.dead.add(unit)
        section = self.data.get(unit[0])
        if isinstance(section, dict):
            section.pop(unit[1], None)
        self.kill_users(unit)

    def kill_users(self, unit: u.Unit) -> None:
        if not unit:
            return
        for other in u.units(self.src.data):
            if other in self.dead or other == unit:
                continue
            users = {j for j, raw in enumerate(self.layers(other)) if unit[1] in u.type_keys(raw)}
            if users:
                self.switch_off(other, users)

    def reasons(self) -> dict[PathKey, str]:
        out: dict[PathKey, str] = {}
        for unit, gone in self.off.items():
            for i in gone:
                path: PathKey = (*unit, "layers", i)
                out[path] = "has an error" if path in self.failed else "depends on an entry with an error"
        for unit in self.dead:
            for i in range(len(self.layers(unit))):
                out.setdefault((*unit, "layers", i), "is in a block or model with an error")
        return out

    # entries checked alone -----------------------------------------------------------------

    def alone(self) -> list[ArchspecError]:
        """Errors of switched-off dependents that do not depend on their inputs (rule 4)."""
        data = self.src.data if isinstance(self.src.data, dict) else {}
        blocks = data.get("blocks") if isinstance(data.get("blocks"), dict) else {}
        models = data.get("models")
        if not isinstance(models, dict):  # one model, named as `archspec.spec` names it
            name = data.get("name")
            models = (
                {DEFAULT_MODEL if name is None else _ident(name): None}
                if isinstance(name, str | None)
                else {}
            )
        ns = SimpleNamespace(source=self.src, blocks=blocks, models=models)
        from archspec.ir.expand import Elaborator

        el = Elaborator(ns)
        out: list[ArchspecError] = []
        for unit, gone in self.off.items():
            layers = self.layers(unit)
            for i in sorted(gone):
                path: PathKey = (*unit, "layers", i)
                if path in self.failed or i >= len(layers) or _has_scope(layers[i]):
                    continue
                try:
                    _entry_alone(el, layers[i], path)
                except ArchspecError as e:
                    out.append(e)
        return out


def _has_scope(raw: Any) -> bool:
    """An entry whose values need a scope (`$expressions`) or a condition (`when:`)."""
    if isinstance(raw, dict) and "when" in raw:
        return True
    return any(s.startswith("$") for s in u.strings(raw))


def _entry_alone(el: Any, raw: Any, path: PathKey) -> None:
    """What elaboration checks of an entry before reading its inputs, in the same order."""
    from archspec.spec.entries import read_entry

    e = read_entry(raw, path, el.src, el._is_type, el._all_types())
    kind = el._kind(e.key)
    if kind is None:  # as Elaborator._node says it
        raise ArchspecError(
            "unknown-layer",
            f"unknown layer type '{e.key}'",
            loc=e.loc,
            hint=did_you_mean(e.key, el._all_types())
            or "run `archspec layers` for the layer types, or define a block or model by that name",
        )
    el._fields(e, {})
    if kind == "layer":
        value = None if el._value_lists_inputs(e) else e.value
        el._params(el.layers[e.key], value, e, e.name)
