"""Where each part of a spec's text is: key and value ranges by data path, for editors.

The loader's source map (``Source.keys`` / ``Source.values``) gives where each part starts;
an editor also needs where it ends (a diagnostic's range, the entry under the cursor). This
composes the same text with PyYAML (no value is constructed, nothing is executed) and keeps
every node's start and end. Positions are 0-based ``(line, column)`` in code points.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from archspec.errors import Loc
from archspec.spec.loader import PathKey

Pos = tuple[int, int]
MAX_INDEX_NODES = 200_000

_TOKEN_END = re.compile(r"[\s,:{}\[\]]")


@dataclass(frozen=True)
class Span:
    """A range of text: ``start`` inclusive, ``end`` exclusive."""

    start: Pos
    end: Pos

    def contains(self, pos: Pos) -> bool:
        return self.start <= pos < self.end or (self.start == self.end == pos)


@dataclass
class TextIndex:
    """The ranges of every key and value of a YAML (or JSON) document, by data path."""

    lines: list[str]
    keys: dict[PathKey, Span] = field(default_factory=dict)
    values: dict[PathKey, Span] = field(default_factory=dict)
    scalar_values: set[PathKey] = field(default_factory=set)
    starts: dict[Pos, list[tuple[PathKey, bool]]] = field(default_factory=dict)  # (path, is_key)

    def path_at(self, pos: Pos) -> tuple[PathKey, bool] | None:
        """The deepest path whose key or value contains ``pos`` (and whether it is the key)."""
        best: tuple[PathKey, bool] | None = None
        for table, is_key in ((self.values, False), (self.keys, True)):
            for path, span in table.items():
                if span.contains(pos) and (best is None or len(path) > len(best[0])):
                    best = (path, is_key)
        return best

    def span_of(self, loc: Loc | None) -> Span:
        """A sensible range for an error at ``loc``: the key or scalar starting there, a one-line
        flow collection, or the token at that position."""
        if loc is None:
            return token_span(self.lines, (0, 0))
        pos = (loc.line - 1, loc.col - 1)
        found = self.starts.get(pos, [])
        for path, is_key in found:  # a key or a scalar value first
            if is_key:
                return self.keys[path]
            if path in self.scalar_values:
                return self.values[path]
        for path, _ in found:  # a collection: its first line
            span = self.values[path]
            if span.end[0] == span.start[0]:
                return span
            return Span(span.start, (span.start[0], len(self.lines[span.start[0]].rstrip("\r\n"))))
        return token_span(self.lines, pos)


def token_span(lines: list[str], pos: Pos) -> Span:
    """The word at ``pos`` (at least one character where the line has one)."""
    row = min(max(pos[0], 0), max(len(lines) - 1, 0))
    text = lines[row].rstrip("\r\n") if lines else ""
    col = min(max(pos[1], 0), len(text))
    m = _TOKEN_END.search(text, col + 1) if col < len(text) else None
    end = m.start() if m else len(text)
    if end <= col:
        return Span((row, max(col - 1, 0)), (row, max(col, 1))) if text else Span((row, 0), (row, 0))
    return Span((row, col), (row, end))


def build_index(text: str) -> TextIndex | None:
    """The index of ``text``, or None where it is not well-formed YAML."""
    index = TextIndex(text.splitlines(keepends=True) or [""])
    try:
        root = yaml.compose(text, Loader=_loader())
    except Exception:  # not YAML (or not text PyYAML takes): no ranges, token spans instead
        return None
    if root is not None:
        _walk(root, (), index, set())
    return index


def _loader() -> type:
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _span(node: Node) -> Span:
    return Span((node.start_mark.line, node.start_mark.column), (node.end_mark.line, node.end_mark.column))


def _mark(index: TextIndex, pos: Pos, path: PathKey, is_key: bool) -> None:
    index.starts.setdefault(pos, []).append((path, is_key))


def _walk(node: Node, path: PathKey, index: TextIndex, seen: set[int]) -> None:
    if id(node) in seen or len(seen) > MAX_INDEX_NODES:  # aliases share nodes: visit each once
        return
    seen.add(id(node))
    span = _span(node)
    index.values[path] = span
    _mark(index, span.start, path, False)
    if isinstance(node, ScalarNode):
        index.scalar_values.add(path)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), index, seen)
    elif isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                continue
            key_path = (*path, str(key_node.value))
            key_span = _span(key_node)
            index.keys[key_path] = key_span
            _mark(index, key_span.start, key_path, True)
            _walk(value_node, key_path, index, seen)
