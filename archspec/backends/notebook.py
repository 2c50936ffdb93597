"""Notebook display: ``archspec.diagram(spec)`` is a ``graphviz.Source`` that Jupyter draws inline.

The object is the ``graphviz`` package's own (``.source`` is the DOT text; ``.render()``,
``.pipe()`` and ``.view()`` work as usual with Graphviz installed), except that a notebook
draws it through archspec's dot program (Graphviz's ``dot`` or the ``graphviz-pure`` wheel,
see docs/diagrams.md) with its labels centred, so it needs no system Graphviz.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import graphviz

from archspec.backends.diagram import Depth, build, run_dot, to_dot, to_mermaid
from archspec.passes import Analysis
from archspec.pipeline import analyze_all, load
from archspec.spec import Spec

__all__ = ["Diagram", "diagram"]


class Diagram(graphviz.Source):  # type: ignore[misc]
    """A ``graphviz.Source`` of an archspec drawing; ``.mermaid`` holds the same drawing as Mermaid."""

    def __init__(self, source: str, *args: Any, mermaid: str = "", **kwargs: Any) -> None:
        super().__init__(source, *args, **kwargs)
        self.mermaid = mermaid

    def _copy_kwargs(self, **kwargs: Any) -> dict[str, Any]:
        return dict(super()._copy_kwargs(**kwargs), mermaid=self.mermaid)

    def svg(self) -> str:
        """The drawing as SVG text, laid out by archspec's dot program."""
        return run_dot(self.source, "svg").decode("utf-8")

    def _repr_image_svg_xml(self) -> str:
        return self.svg()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict[str, str]:
        return {"image/svg+xml": self.svg()}


def diagram(
    spec: Spec | str | Path | Analysis | list[Analysis],
    model: str | None = None,
    *,
    depth: Depth = None,
    direction: str = "TB",
    sizes: Mapping[str, int] | None = None,
) -> Diagram:
    """The diagram of a spec (a path, YAML text, a loaded ``Spec``) or of analyses.

    ``model`` draws one model of a multi-model spec; ``depth`` is as for ``render``: None
    draws as deep as fits in ``AUTO_NODES`` nodes, "all" expands everything, N opens N levels.
    """
    if isinstance(spec, Analysis):
        analyses = [spec]
    elif isinstance(spec, list):
        analyses = [a for a in spec if model is None or a.model == model]
    else:
        loaded = spec if isinstance(spec, Spec) else load(spec)
        analyses = analyze_all(loaded, model, sizes)
    drawing = build(analyses, depth=depth, direction=direction)
    return Diagram(to_dot(drawing), mermaid=to_mermaid(drawing))
