"""Centre the text of a dot-made SVG the way a browser can keep it centred.

Graphviz writes each line of an HTML-like label as ``text-anchor="start"`` at an x it
measured with its own font metrics; a browser's font is wider or narrower, so the text
drifts to one side of its box. Every line archspec centres (node labels and the title)
is one text span, so it can be anchored at the middle of its box instead: the box's
centre, read from the shape dot drew around it, is right in every font.
"""

from __future__ import annotations

import re

_NODE = re.compile(rb'(<g id="[^"]*" class="node">)(.*?)(</g>)', re.DOTALL)
_GRAPH = re.compile(rb'(<g id="graph0" class="graph"[^>]*>)(.*?)(?=<g id=|</svg>)', re.DOTALL)
_SHAPE = re.compile(rb"<(?:polygon|path|ellipse)\b[^>]*>")
_PAIR = re.compile(rb"(-?[0-9]+(?:\.[0-9]+)?),(-?[0-9]+(?:\.[0-9]+)?)")
_CX = re.compile(rb'\bcx="(-?[0-9.]+)"')
_POINTS = re.compile(rb'\b(?:points|d)="([^"]*)"')
_TEXT = re.compile(rb'<text\b([^>]*?)text-anchor="start" x="(-?[0-9.]+)" y="(-?[0-9.]+)"')


def center_text(svg: bytes) -> bytes:
    """``svg`` with each single-span line of a node or of the title anchored at its box's middle."""
    svg = _NODE.sub(_center_group, svg)
    return _GRAPH.sub(_center_group, svg, count=1)


def _center_group(m: re.Match[bytes]) -> bytes:
    head, body, tail = m.group(1), m.group(2), m.group(3) if m.lastindex == 3 else b""
    shape = _SHAPE.search(body)
    if shape is None:
        return m.group(0)
    centre = _centre(shape.group(0))
    if centre is None:
        return m.group(0)
    rows = [t.group(3) for t in _TEXT.finditer(body)]
    x = (b"%.2f" % centre).rstrip(b"0").rstrip(b".")

    def move(t: re.Match[bytes]) -> bytes:
        if rows.count(t.group(3)) > 1:  # several spans on one line: leave them as laid out
            return t.group(0)
        return b"<text" + t.group(1) + b'text-anchor="middle" x="' + x + b'" y="' + t.group(3) + b'"'

    return head + _TEXT.sub(move, body) + tail


def _centre(shape: bytes) -> float | None:
    cx = _CX.search(shape)
    if cx is not None:
        return float(cx.group(1))
    points = _POINTS.search(shape)
    xs = [float(p.group(1)) for p in _PAIR.finditer(points.group(1))] if points else []
    return (min(xs) + max(xs)) / 2 if xs else None
