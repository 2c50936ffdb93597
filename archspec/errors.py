"""The one error type archspec raises, and the table of its stable codes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

# Every code archspec can raise. A misspelled code at an `ArchspecError(...)` call is a type error
# (mypy); CODES gives each its one-line meaning, and docs/errors.md is tested against it.
ErrorCode = Literal[
    "file-not-found",
    "file-too-large",
    "syntax",
    "yaml-tag",
    "yaml-alias",
    "duplicate-key",
    "bad-number",
    "too-deep",
    "schema",
    "unknown-field",
    "unknown-layer",
    "bad-name",
    "duplicate-name",
    "undefined-reference",
    "cycle",
    "arity",
    "expression",
    "block-recursion",
    "limit",
    "shape-mismatch",
    "bad-value",
    "unused-node",
    "no-model",
    "dim-size",
    "memory-budget",
    "missing-dependency",
    "unsupported",
    "export",
    "verify",
    "weights",
    "render",
    "io",
    "plugin",
]

CODES: dict[ErrorCode, str] = {
    "file-not-found": "the spec file does not exist or cannot be read",
    "file-too-large": "the spec file is larger than the loader accepts",
    "syntax": "the file is not valid YAML or JSON",
    "yaml-tag": "a YAML tag (!!python/..., !!binary, !!set, ...) is not allowed",
    "yaml-alias": "YAML anchors, aliases and merge keys are not allowed",
    "duplicate-key": "a mapping has the same key twice",
    "bad-number": "a number is out of range, ambiguous or not finite",
    "too-deep": "the document is nested too deeply or has too many nodes",
    "schema": "a value has the wrong type, is missing, or is not allowed here",
    "unknown-field": "a field is not known for this layer or section",
    "unknown-layer": "a layer type, block or model name is not known",
    "bad-name": "a node name is not a valid identifier or is reserved",
    "duplicate-name": "two nodes in one graph have the same name",
    "undefined-reference": "an input refers to a node that does not exist",
    "cycle": "the graph has a cycle",
    "arity": "a layer got the wrong number of inputs",
    "expression": "a $expression is malformed, uses an unknown name, or fails",
    "block-recursion": "a block or model uses itself",
    "limit": "a size, count or depth limit was exceeded",
    "shape-mismatch": "a layer cannot take the shape (or dtype) it is given",
    "bad-value": "a parameter value is invalid for its layer",
    "unused-node": "a node is not used by any output",
    "no-model": "the requested model does not exist",
    "dim-size": "a symbolic dimension size given on the command line is invalid",
    "memory-budget": "building real weights would exceed the memory budget",
    "missing-dependency": "an optional dependency (torch, onnx, graphviz) is not installed",
    "unsupported": "the target cannot handle this model (not built yet, or not exportable)",
    "export": "the ONNX export or its verification failed",
    "verify": "an ONNX file does not match the spec (archspec verify)",
    "weights": "weights cannot be read, or do not fit the model (missing, unexpected, wrong-shaped keys)",
    "render": "the diagram renderer failed",
    "io": "an output could not be written",
    "plugin": "a layer plugin failed to load",
}


@dataclass(frozen=True)
class Loc:
    """A position in a spec file (1-based line and column)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class ArchspecError(Exception):
    """A user-facing error: a stable code, a location, what went wrong and how to fix it."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        loc: Loc | None = None,
        node: str | None = None,
        expected: str | None = None,
        got: str | None = None,
        hint: str | None = None,
    ) -> None:
        if code not in CODES:  # a plugin's untyped call
            raise ValueError(f"unregistered error code {code!r}")
        self.code = code
        self.message = message
        self.loc = loc
        self.node = node
        self.expected = expected
        self.got = got
        self.hint = hint
        super().__init__(self.format())

    def format(self) -> str:
        where = f"{self.loc}: " if self.loc else ""
        node = f"node '{self.node}': " if self.node else ""
        lines = [f"{where}error[{self.code}]: {node}{self.message}"]
        if self.expected is not None:
            lines.append(f"  expected: {self.expected}")
        if self.got is not None:
            lines.append(f"  got:      {self.got}")
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "file": self.loc.file if self.loc else None,
            "line": self.loc.line if self.loc else None,
            "col": self.loc.col if self.loc else None,
            "node": self.node,
            "expected": self.expected,
            "got": self.got,
            "hint": self.hint,
        }


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean' hint for the closest choice, or None."""
    import difflib

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
