"""The pipeline, end to end: spec text -> validated ``Spec`` -> typed graphs -> analysis.

``load`` runs every static stage, so that a spec that loads is known to be well formed:
syntax and sections (``archspec.spec``), elaboration with every type inferred
(``archspec.ir``), and the static passes (``archspec.passes``). ``analyze`` adds what depends
on sizes. Backends (``archspec.backends``) take an ``Analysis``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from archspec import passes
from archspec.passes import Analysis
from archspec.spec import Spec, read, read_text

__all__ = ["analyze", "analyze_all", "load", "load_text", "spec_of"]


def load(path: str | Path) -> Spec:
    """Load and check the spec file at ``path`` (a ``str`` or ``Path`` always names a file; spec
    text goes through ``load_text``). Layer types, settings, references, names, expressions and
    shapes of every model are checked here."""
    spec = read(path)
    passes.check_spec(spec)
    return spec


def load_text(text: str, *, name: str = "<string>", fmt: str | None = None) -> Spec:
    """Load and check spec text (YAML, or JSON when ``fmt="json"`` or the text starts with ``{``);
    ``name`` is the file name errors report. The text is never read as a path."""
    spec = read_text(text, name=name, fmt=fmt)
    passes.check_spec(spec)
    return spec


def spec_of(spec: Spec | str | Path) -> Spec:
    """A loaded spec, or the one at a path."""
    return spec if isinstance(spec, Spec) else load(spec)


def analyze(
    spec: Spec | str | Path, model: str | None = None, sizes: Mapping[str, int] | None = None
) -> Analysis:
    """Shapes and counts of one model (the first, when the spec has several and none is named)."""
    return passes.analyze(spec_of(spec), model, sizes)


def analyze_all(
    spec: Spec | str | Path, model: str | None = None, sizes: Mapping[str, int] | None = None
) -> list[Analysis]:
    """Every model of the spec (or the one named)."""
    return passes.analyze_all(spec_of(spec), model, sizes)
