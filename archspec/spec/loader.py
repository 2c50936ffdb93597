"""Spec text -> plain data plus a source map (every key path -> file:line:col).

The YAML is composed into nodes by PyYAML and converted here, so that we decide what
each scalar means (a YAML 1.2-like core schema, stricter than PyYAML's 1.1 defaults)
and reject what a spec never needs: tags, anchors/aliases, merge keys, duplicate keys,
ambiguous or non-finite numbers, absurd nesting. JSON goes through the same path after
``json`` itself has checked it, so both formats get the same positions and messages.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.events import AliasEvent, MappingStartEvent, ScalarEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from archspec.errors import ArchspecError, ErrorCode, Loc

MAX_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 2_000_000
MAX_INT_DIGITS = 19

PathKey = tuple[str | int, ...]

_INT = re.compile(r"[-+]?[0-9]+")
_INT_PREFIXED = re.compile(r"[-+]?0(o[0-7]+|x[0-9a-fA-F]+)")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULL = {"null", "Null", "NULL", "~", ""}
_NON_FINITE = re.compile(r"[-+]?\.(inf|Inf|INF|nan|NaN|NAN)")


@dataclass
class Source:
    """Plain data from a spec file, and where each part of it came from."""

    data: Any
    file: str
    keys: dict[PathKey, Loc] = field(default_factory=dict)
    values: dict[PathKey, Loc] = field(default_factory=dict)

    def loc(self, path: PathKey) -> Loc | None:
        """The location of the key at ``path`` (or of the nearest enclosing one)."""
        p = tuple(path)
        while True:
            found = self.keys.get(p) or self.values.get(p)
            if found or not p:
                return found
            p = p[:-1]

    def value_loc(self, path: PathKey) -> Loc | None:
        return self.values.get(tuple(path)) or self.loc(path)


class _StrictComposer(Composer, BaseResolver):
    """PyYAML's composer with no implicit types, no aliases and no explicit tags."""

    def __init__(self, file: str) -> None:
        Composer.__init__(self)
        BaseResolver.__init__(self)
        self.file = file
        self.count = 0
        self.depth = 0

    def single_node(self) -> Node | None:
        return Composer.get_single_node(self)  # type: ignore[no-any-return]

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # type: ignore[override]
        event = self.peek_event()  # type: ignore[attr-defined]  # from the parser class
        loc = Loc(self.file, event.start_mark.line + 1, event.start_mark.column + 1)
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None):
            raise ArchspecError(
                "yaml-alias",
                "YAML anchors and aliases (&name, *name) are not allowed in a spec",
                loc=loc,
                hint="reuse structure with `blocks:` and values with `vars:` instead",
            )
        tag = getattr(event, "tag", None)
        if isinstance(event, (ScalarEvent, MappingStartEvent, SequenceStartEvent)) and tag not in (
            None,
            "!",
        ):
            raise ArchspecError(
                "yaml-tag",
                f"YAML tag '{tag}' is not allowed in a spec",
                loc=loc,
                hint="remove the tag; a spec holds only plain mappings, lists, strings and numbers",
            )
        self.count += 1
        if self.count > MAX_NODES:
            raise ArchspecError("too-deep", f"the document has more than {MAX_NODES} nodes", loc=loc)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ArchspecError(
                "too-deep", f"the document is nested more than {MAX_DEPTH} levels deep", loc=loc
            )
        try:
            return super().compose_node(parent, index)  # type: ignore[no-any-return,return-value]
        finally:
            self.depth -= 1


class _PyLoader(Reader, Scanner, Parser, _StrictComposer):  # type: ignore[misc]
    """Pure-Python scanning and parsing (where PyYAML was built without libyaml)."""

    def __init__(self, text: str, file: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        _StrictComposer.__init__(self, file)


try:  # libyaml scans and parses 10-15x faster; the composing (and every check) stays ours
    from yaml._yaml import CParser

    class _CLoader(CParser, _StrictComposer):  # type: ignore[misc]
        def __init__(self, text: str, file: str) -> None:
            CParser.__init__(self, text)
            _StrictComposer.__init__(self, file)

    _Loader: type[_StrictComposer] = _CLoader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    _Loader = _PyLoader


def load_text(text: str, file: str = "<string>", fmt: str | None = None) -> Source:
    """Parse spec text (YAML or JSON; JSON if ``fmt == 'json'`` or the text starts with '{')."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise ArchspecError(
            "file-too-large",
            f"the spec is larger than {MAX_BYTES // (1024 * 1024)} MiB",
            loc=Loc(file, 1, 1),
        )
    if fmt == "json" or (fmt is None and text.lstrip().startswith("{")):
        _check_json(text, file)
    loader: _StrictComposer | None = None
    try:
        loader = _Loader(text, file)  # type: ignore[call-arg]  # the reader checks for control characters
        node = loader.single_node()
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        col = e.position - (text.rfind("\n", 0, e.position) + 1) + 1
        raise ArchspecError(
            "syntax",
            f"invalid YAML: control character {chr(e.character)!r} is not allowed",
            loc=Loc(file, line, col),
            hint="remove it, or write it as an escape inside a double-quoted string",
        ) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = Loc(file, mark.line + 1, mark.column + 1) if mark else Loc(file, 1, 1)
        problem = str(e.problem or e.context)
        tab = "'\\t'" in problem or (mark is not None and text[mark.index : mark.index + 1] == "\t")
        hint = "indent with spaces: YAML does not allow tabs" if tab else _flow_hint(e, text)
        raise ArchspecError("syntax", f"invalid YAML: {problem}", loc=loc, hint=hint) from None
    except yaml.YAMLError as e:
        raise ArchspecError("syntax", f"invalid YAML: {e}", loc=Loc(file, 1, 1)) from None
    finally:
        if loader is not None and hasattr(loader, "dispose"):
            loader.dispose()
    src = Source(data=None, file=file)
    src.data = {} if node is None else _convert(node, (), src)
    return src


def load_path(path: str | Path) -> Source:
    """Read and parse a spec file. At most ``MAX_BYTES`` (+1) bytes are ever read, whatever the
    file is (a regular file, a device such as /dev/zero, a pipe)."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise ArchspecError("file-not-found", f"cannot read {str(p)!r}: {e.strerror or e}") from None
    except ValueError as e:  # a NUL byte in the path
        raise ArchspecError("file-not-found", f"cannot read {str(p)!r}: {e}") from None
    if len(raw) > MAX_BYTES:
        raise ArchspecError(
            "file-too-large",
            f"the spec is more than {MAX_BYTES // (1024 * 1024)} MiB",
            loc=Loc(str(p), 1, 1),
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ArchspecError("syntax", "the file is not UTF-8 text", loc=Loc(str(p), line, 1)) from None
    return load_text(text, str(p), "json" if p.suffix.lower() == ".json" else None)


def _loc(node: Node, file: str) -> Loc:
    return Loc(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _convert(node: Node, path: PathKey, src: Source) -> Any:
    src.values[path] = _loc(node, src.file)
    if isinstance(node, ScalarNode):
        return _scalar(node, src.file)
    if isinstance(node, SequenceNode):
        return [_convert(item, (*path, i), src) for i, item in enumerate(node.value)]
    assert isinstance(node, MappingNode)
    out: dict[str, Any] = {}
    for key_node, value_node in node.value:
        loc = _loc(key_node, src.file)
        if not isinstance(key_node, ScalarNode):
            raise ArchspecError("schema", "mapping keys must be plain strings", loc=loc)
        key = _text(key_node.value, key_node, src.file)
        if key == "<<" and not key_node.style:
            raise ArchspecError(
                "yaml-alias",
                "YAML merge keys (<<) are not allowed in a spec",
                loc=loc,
                hint="reuse structure with `blocks:` and values with `vars:` instead",
            )
        if key in out:
            first = src.keys[(*path, key)]
            raise ArchspecError(
                "duplicate-key",
                f"key '{key}' appears twice in one mapping (first at line {first.line})",
                loc=loc,
                hint="YAML would silently keep the last one; remove or rename one of them",
            )
        src.keys[(*path, key)] = loc
        out[key] = _convert(value_node, (*path, key), src)
    return out


def _scalar(node: ScalarNode, file: str) -> Any:
    text: str = _text(node.value, node, file)
    if node.style:  # quoted or block scalar: always a string
        return text
    if text in _NULL:
        return None
    if text in _BOOL:
        return _BOOL[text]
    loc = _loc(node, file)
    if _INT.fullmatch(text):
        digits = text.lstrip("+-")
        if len(digits) > 1 and digits.startswith("0"):
            raise ArchspecError(
                "bad-number",
                f"'{text}' has a leading zero, which YAML 1.1 reads as octal",
                loc=loc,
                hint=f"write {int(text)} (or 0o{digits.lstrip('0')} for octal), or quote it",
            )
        if len(digits) > MAX_INT_DIGITS:
            raise ArchspecError("bad-number", f"integer with {len(digits)} digits is out of range", loc=loc)
        return int(text)
    if _INT_PREFIXED.fullmatch(text):
        return int(text, 0)
    if _FLOAT.fullmatch(text):
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise ArchspecError("bad-number", f"'{text}' overflows to infinity", loc=loc)
        return value
    if _NON_FINITE.fullmatch(text):
        raise ArchspecError("bad-number", f"'{text}' is not a finite number", loc=loc)
    return text


def _text(text: str, node: Node, file: str) -> str:
    """A string from the file: no lone surrogates (they cannot be written as UTF-8) and no
    NUL characters (from escapes such as "\\u0000")."""
    if "\x00" in text or any("\ud800" <= c <= "\udfff" for c in text):
        raise ArchspecError(
            "syntax",
            "a string holds a NUL character or a lone surrogate (an escape such as \\ud800)",
            loc=_loc(node, file),
            hint="spec text must be valid Unicode without NUL characters",
        )
    return text


def _check_json(text: str, file: str) -> None:
    """Let ``json`` reject what it rejects; add duplicate keys and non-finite numbers."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for k, _ in items:
            if k in seen:
                raise _JsonProblem("duplicate-key", f"key '{k}' appears twice in one object", k)
            seen.add(k)
        return dict(items)

    def constant(name: str) -> None:
        raise _JsonProblem("bad-number", f"'{name}' is not allowed in a spec", name)

    def number(s: str) -> float:
        value = float(s)
        if value in (float("inf"), float("-inf")):
            raise _JsonProblem("bad-number", f"'{s}' overflows to infinity", s)
        return value

    try:
        json.loads(text, object_pairs_hook=pairs, parse_constant=constant, parse_float=number)
    except json.JSONDecodeError as e:
        raise ArchspecError("syntax", f"invalid JSON: {e.msg}", loc=Loc(file, e.lineno, e.colno)) from None
    except _JsonProblem as e:
        raise ArchspecError(e.code, e.message, loc=_find(text, e.needle, file)) from None
    except RecursionError:
        raise ArchspecError("too-deep", "the JSON is nested too deeply", loc=Loc(file, 1, 1)) from None


class _JsonProblem(Exception):
    def __init__(self, code: ErrorCode, message: str, needle: str) -> None:
        super().__init__(message)
        self.code, self.message, self.needle = code, message, needle


def _find(text: str, needle: str, file: str) -> Loc:
    """Best-effort location of a JSON problem: the last occurrence of its text."""
    at = text.rfind(f'"{needle}"')
    if at < 0:
        at = text.rfind(needle)
    at = max(at, 0)
    line = text.count("\n", 0, at) + 1
    col = at - (text.rfind("\n", 0, at) + 1) + 1
    return Loc(file, line, col)


def _flow_hint(e: yaml.MarkedYAMLError, text: str) -> str | None:
    """What usually breaks a flow collection (`[...]`, `{...}`): an expression with brackets left
    unquoted, or a bracket never closed."""
    mark, start = e.problem_mark, e.context_mark
    if mark is None or not str(e.context or "").startswith("while parsing a flow"):
        return None
    lines = text.splitlines()
    here = lines[mark.line] if mark.line < len(lines) else ""
    if (
        start is not None
        and start.line < len(lines)
        and re.search(r"\$[^\s,]*[\[{]", lines[start.line] + here)
    ):
        return 'quote an expression with brackets in flow-style YAML: "$x.shape[1]"'
    if start is not None and start.line != mark.line:
        bracket = "[" if "sequence" in str(e.context) else "{"
        return f"the {bracket} opened at line {start.line + 1} is not closed"
    return None
