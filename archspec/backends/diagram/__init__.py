"""Diagrams of analyzed models: DOT and Mermaid text, and SVG/PNG/PDF through a dot program.

Nothing here imports torch or the ``graphviz`` Python package; images need a ``dot``
program (Graphviz, or the ``graphviz-pure`` wheel), text formats need nothing.
"""

from __future__ import annotations

from archspec.backends.diagram.depth import AUTO_NODES, MAX_DRAWN, Depth
from archspec.backends.diagram.dot import to_dot
from archspec.backends.diagram.mermaid import to_mermaid
from archspec.backends.diagram.render import FORMATS, find_dot, render, run_dot
from archspec.backends.diagram.view import Box, Cluster, Drawing, Edge, build

__all__ = [
    "AUTO_NODES",
    "FORMATS",
    "MAX_DRAWN",
    "Box",
    "Cluster",
    "Depth",
    "Drawing",
    "Edge",
    "build",
    "find_dot",
    "render",
    "run_dot",
    "to_dot",
    "to_mermaid",
]
