"""Hover and go-to-definition: from a position in the text to the IR and back.

A position is mapped to a data path through the text index, an entry path to the location
the elaborator gave its nodes (``Entry.loc``: the type key, or the bare name), and that to
every IR node built from the entry (``node.loc``): one for an entry of a model, one per
instance for an entry of a block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from archspec import passes
from archspec.errors import Loc
from archspec.ir.graph import GraphNode, InputNode, Node
from archspec.lsp import units as u
from archspec.lsp.collect import Checked
from archspec.lsp.textindex import Pos, Span
from archspec.passes import Analysis
from archspec.spec.loader import PathKey

MAX_ROWS = 8
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Nav:
    """One checked document with its analyses (computed on first use)."""

    checked: Checked
    _analyses: list[Analysis] | None = field(default=None, repr=False)

    @property
    def analyses(self) -> list[Analysis]:
        if self._analyses is None:
            spec = self.checked.spec
            try:
                self._analyses = passes.analyze_all(spec) if spec is not None else []
            except Exception:  # hover is best effort; diagnostics carry the errors
                self._analyses = []
        return self._analyses

    def at(self, pos: Pos) -> tuple[PathKey, bool] | None:
        index = self.checked.index
        if index is None:
            return None
        found = index.path_at(pos)
        if found is None and pos[1] > 0:  # just after a word
            found = index.path_at((pos[0], pos[1] - 1))
        if found is not None and found[0][-1:] == ("layers",):  # on an item's `- `: that item
            for path, span in index.values.items():
                if path[:-1] == found[0] and span.start[0] == pos[0] and span.start[1] >= pos[1]:
                    return path, False
        return found

    # hover -------------------------------------------------------------------------------

    def hover(self, pos: Pos) -> tuple[str, Span] | None:
        """Markdown about what is under ``pos``, and the range it is about."""
        found = self.at(pos)
        src, index = self.checked.source, self.checked.index
        if found is None or src is None or index is None:
            return None
        path, _ = found
        entry = u.entry_of(path, src.data)
        if entry is not None:
            text = self._entry_hover(entry)
            return (text, index.values[entry]) if text else None
        unit = u.unit_of(path, src.data)
        if (
            unit is not None
            and len(path) > len(unit) + 1
            and path[len(unit)] == "inputs"
            and unit[:1] != ("blocks",)
        ):
            return self._input_hover(unit, str(path[len(unit) + 1]))
        single = self.checked.spec is not None and self.checked.spec.single
        if (unit is not None and path == unit and unit) or (unit is None and path == ("name",) and single):
            return self._model_hover(unit[1] if unit else None, index.keys.get(path) or index.values[path])
        return None

    def _entry_hover(self, entry: PathKey) -> str | None:
        src = self.checked.source
        assert src is not None
        why = self.checked.off.get(entry)
        if why is not None:
            return f"*not checked*: this entry {why}"
        loc = entry_loc(src.data, src, entry)
        unit = u.unit_of_entry(entry)
        rows: list[tuple[Analysis, int, Node]] = []
        for a in self.analyses:
            if unit and unit[0] == "models" and a.model != unit[1]:
                continue
            rows += [(a, d, n) for d, n in a.graph.walk() if n.loc == loc]
        if not rows:
            return "*not built*: excluded by `when:`, or its block is not used" if self.analyses else None
        if not unit or unit[0] == "models":
            top = min(d for _, d, _ in rows)
            rows = [r for r in rows if r[1] == top]
        a, _, node = rows[0]
        head = f"**{node.name}** · {what(node)}"
        if len(rows) == 1:
            return "\n\n".join([head, *node_lines(a, node)])
        lines = [
            f"{head} · {len(rows)} instances in block `{unit[1]}`",
            "| node | output | params | MACs |",
            "|---|---|---|---|",
        ]
        for a, _, n in rows[:MAX_ROWS]:
            outs = ", ".join(str(t) for t in n.outs.values())
            lines.append(f"| {n.path} | `{outs}` | {n.counts.params:,} | {a.macs_of(n):,} |")
        if len(rows) > MAX_ROWS:
            lines.append(f"| ... {len(rows) - MAX_ROWS} more | | | |")
        return "\n".join(lines) + "\n\n" + macs_note(a)

    def _input_hover(self, unit: u.Unit, name: str) -> tuple[str, Span] | None:
        index = self.checked.index
        model = unit[1] if unit else None
        for a in self.analyses:
            if (model is None or a.model == model) and name in a.graph.inputs:
                node = a.graph.nodes[name]
                assert index is not None
                span = index.keys.get((*unit, "inputs", name))
                return (f"**{name}** · input of model `{a.model}`\n\n`{node.out}`", span) if span else None
        return None

    def _model_hover(self, model: str | None, span: Span) -> tuple[str, Span] | None:
        for a in self.analyses:
            if model is None or a.model == model:
                t = a.totals
                lines = [
                    f"**{a.model}** · model",
                    "inputs: " + ", ".join(f"`{k}: {v}`" for k, v in a.inputs.items()),
                    "outputs: " + ", ".join(f"`{k}: {v}`" for k, v in a.outputs.items()),
                    f"params **{t.params:,}** ({t.trainable:,} trainable) · buffers {t.buffers:,}",
                    f"MACs **{a.macs:,}** {macs_note(a)}",
                ]
                return "\n\n".join(lines), span
        return None

    # go to definition ----------------------------------------------------------------------

    def definition(self, pos: Pos) -> list[Span]:
        found = self.at(pos)
        src, index = self.checked.source, self.checked.index
        if found is None or src is None or index is None:
            return []
        path, is_key = found
        data = src.data
        unit = u.unit_of(path, data)
        entry = u.entry_of(path, data)
        raw = u.at(data, path)
        word = _word_at(index.lines, pos)
        if isinstance(raw, str) and "$" in raw and word:
            return self._var(unit, word)
        if entry is not None:
            key = u.entry_key(u.at(data, entry))
            rest = path[len(entry) :]
            if (is_key and rest == (key,)) or (not is_key and not rest and isinstance(raw, str)):
                return self._type(key)
            if rest[:1] == ("inputs",) or (
                rest[:1] == (key,) and len(rest) == 2 and u.merge_inputs(u.at(data, entry))
            ):
                return self.ref(u.unit_of_entry(entry), raw) if isinstance(raw, str) and not is_key else []
            if rest == ("tie",) and isinstance(raw, str):
                return self._tie(u.unit_of_entry(entry), raw)
            return []
        if unit is not None and path[len(unit) : len(unit) + 1] == ("outputs",) and isinstance(raw, str):
            return self.ref(unit, raw)
        return []

    def _type(self, key: str | None) -> list[Span]:
        index = self.checked.index
        assert index is not None
        for section in ("blocks", "models"):
            span = index.keys.get((section, key or ""))
            if span is not None:
                return [span]
        return []

    def _var(self, unit: u.Unit | None, word: str) -> list[Span]:
        index = self.checked.index
        assert index is not None
        if unit and unit[0] == "blocks" and (span := index.keys.get((*unit, "args", word))):
            return [span]
        span = index.keys.get(("vars", word))
        return [span] if span else []

    def ref(self, unit: u.Unit, ref: str) -> list[Span]:
        """Where a reference (``name`` or ``name.output``) of this unit's graph is defined."""
        src, index = self.checked.source, self.checked.index
        assert src is not None and index is not None
        name = ref.split(".")[0]
        spans = [
            index.values[(*unit, "layers", i, "name")]
            for i, raw in enumerate(u.entries(src.data, unit))
            if u.entry_name(raw) == name and (*unit, "layers", i, "name") in index.values
        ]
        if spans:
            return spans
        if unit[:1] == ("blocks",):
            declared = u.at(src.data, (*unit, "inputs"))
            if isinstance(declared, list) and name in declared:
                return [index.values[(*unit, "inputs", declared.index(name))]]
            if declared is None and name == "input":
                return [index.keys[unit]]
        elif (span := index.keys.get((*unit, "inputs", name))) is not None:
            return [span]
        node = self._graph_node(unit, name)  # an automatic name (relu2): ask the IR
        return [index.span_of(node.loc)] if node is not None and node.loc else []

    def _graph_node(self, unit: u.Unit, name: str) -> Node | None:
        for a in self.analyses:
            if unit and unit[0] == "blocks":
                for _, n in a.graph.walk():
                    if isinstance(n, GraphNode) and n.kind == "block" and n.of == unit[1]:
                        return n.graph.nodes.get(name)
            elif not unit or a.model == unit[1]:
                node = a.graph.nodes.get(name)
                return None if isinstance(node, InputNode) else node
        return None

    def _tie(self, unit: u.Unit, path: str) -> list[Span]:
        index = self.checked.index
        assert index is not None
        for a in self.analyses:
            if unit and unit[0] == "models" and a.model != unit[1]:
                continue
            for _, n in a.graph.walk():
                if n.path == path and n.loc is not None:
                    return [index.span_of(n.loc)]
        return []


def entry_loc(data: Any, src: Any, entry: PathKey) -> Loc | None:
    """The location the elaborator gives an entry's nodes (as ``read_entry`` does)."""
    raw = u.at(data, entry)
    key = u.entry_key(raw)
    if isinstance(raw, dict) and key is not None:
        return src.loc((*entry, key)) or src.loc(entry)  # type: ignore[no-any-return]
    return src.loc(entry)  # type: ignore[no-any-return]


def what(node: Node) -> str:
    """What a node is, as the summary table says it."""
    if node.kind == "repeat":
        return f"`{node.type}` ×{node.args.get('count', 0) if isinstance(node, GraphNode) else 0}"
    if node.kind in ("block", "model"):
        return f"{node.kind} `{node.type}`"
    return node.layer.display_name() if node.layer else node.type


def node_lines(a: Analysis, node: Node) -> list[str]:
    outs = list(node.outs.items())
    if len(outs) == 1:
        out = [f"output `{outs[0][1]}`"]
    else:
        out = ["outputs " + ", ".join(f"`{k}: {t}`" for k, t in outs)]
    ins = ", ".join(f"`{t}`" for t in node.in_types)
    c = node.counts
    count = f"params **{c.params:,}**" + (f" ({c.frozen:,} frozen)" if c.frozen else "")
    count += f" · buffers {c.buffers:,}" if c.buffers else ""
    lines = [*out, f"input {ins}" if ins else "", f"{count} · MACs **{a.macs_of(node):,}** {macs_note(a)}"]
    return [line for line in lines if line]


def macs_note(a: Analysis) -> str:
    sym = sorted(a.symbols)
    return f"(with {', '.join(f'{s}=1' for s in sym)})" if sym else ""


def _word_at(lines: list[str], pos: Pos) -> str | None:
    if pos[0] >= len(lines):
        return None
    for m in _WORD.finditer(lines[pos[0]]):
        if m.start() <= pos[1] <= m.end():
            return m.group()
    return None
