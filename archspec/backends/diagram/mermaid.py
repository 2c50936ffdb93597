"""Mermaid ``flowchart`` text for a drawing.

Node and subgraph IDs are generated (``n1``, ``c1``), so they are always safe; every label
is in double quotes with ``"``, ``#``, ``<``, ``>``, ``&`` and backticks written as Mermaid
entity codes (``#quot;`` ...), so spec text cannot break the chart or inject HTML.
"""

from __future__ import annotations

import json

from archspec.backends.diagram.dot import box_lines
from archspec.backends.diagram.view import Box, Cluster, Drawing, clip

_ENTITIES = {
    '"': "#quot;",
    "#": "#35;",
    "<": "#lt;",
    ">": "#gt;",
    "&": "#amp;",
    "`": "#96;",
    "%": "#37;",
}
CLASSES = {
    "input": "fill:#e7f5ff,stroke:#1c7ed6",
    "port": "fill:none,stroke:none",
    "layer": "fill:#ffffff,stroke:#495057",
    "merge": "fill:#fff4e6,stroke:#e8590c",
    "block": "fill:#f3f0ff,stroke:#7048e8",
    "repeat": "fill:#ebfbee,stroke:#2f9e44",
    "model": "fill:#fff0f6,stroke:#c2255c",
    "note": "fill:#fff9db,stroke:#f08c00",
    "frozen": "fill:#e9ecef,stroke-dasharray:4 3",
    "output": "stroke-width:3px",
    "modelframe": "fill:#fcfcfd,stroke:#343a40",
    "added": "fill:#d3f9d8,stroke:#2b8a3e,stroke-width:2px",
    "changed": "fill:#fff3bf,stroke:#f08c00,stroke-width:2px",
}
FRAME_CLASSES = {"block": "block", "repeat": "repeat", "call": "model", "model": "modelframe"}
WRAP_WIDTH = 600  # px before a label line wraps (Mermaid's default, 200, breaks most shapes)
SHAPES = {"input": ('(["', '"])'), "block": ('[["', '"]]'), "repeat": ('[["', '"]]'), "model": ('[["', '"]]')}


def to_mermaid(d: Drawing) -> str:
    """The Mermaid source of ``d``."""
    ids: dict[str, str] = {}
    frames: list[str] = []  # frame classes go last: an edge to a frame resets the ones before it
    lines = [
        "---",
        f"title: {json.dumps(clip(d.title))}",
        "config:",
        "  flowchart:",
        f"    wrappingWidth: {WRAP_WIDTH}",
        "---",
        f"flowchart {d.direction}",
    ]
    for i, note in enumerate([d.subtitle, *d.notes] if d.subtitle else d.notes):
        lines.append(f'  note{i}["{label(("note: " if i or not d.subtitle else "") + note)}"]:::note')
    for item in d.items:
        _item(item, ids, lines, "  ", d.direction, frames)
    for e in d.edges:
        src, dst = ids.get(e.src), ids.get(e.cluster or e.dst)
        if src is None or dst is None:
            continue
        if e.kind == "skip":
            lines.append(f'  {src} -.->|"skip"| {dst}')
        elif e.kind == "call":
            lines.append(f'  {src} -.->|"{label(e.label)}"| {dst}')
        elif e.label:
            lines.append(f'  {src} -->|"{label(e.label)}"| {dst}')
        else:
            lines.append(f"  {src} --> {dst}")
    lines.extend(frames)
    for kind, css in CLASSES.items():
        lines.append(f"  classDef {kind} {css}")
    return "\n".join(lines) + "\n"


def label(text: str) -> str:
    """Text for a double-quoted Mermaid label."""
    return "".join(_ENTITIES.get(ch, ch) for ch in clip(text))


def _item(
    item: Box | Cluster, ids: dict[str, str], lines: list[str], pad: str, direction: str, frames: list[str]
) -> None:
    if isinstance(item, Box):
        mid = ids[item.id] = f"n{len(ids) + 1}"
        rows = [x for x in box_lines(item) if x]
        text = "<b>" + label(rows[0]) + "</b>" + "".join("<br/>" + label(r) for r in rows[1:])
        start, end = SHAPES.get(item.kind, ('["', '"]'))
        classes = [item.kind] + (["frozen"] if item.frozen else []) + (["output"] if item.output else [])
        classes += [item.mark] if item.mark else []
        lines.append(f"{pad}{mid}{start}{text}{end}:::{classes[0]}")
        lines.extend(f"{pad}class {mid} {c}" for c in classes[1:])
        return
    cid = ids[item.id] = f"c{len(ids) + 1}"
    title = " "  # a block's title is on its entry node, where no edge crosses it
    if item.kind == "model":
        # one line: Mermaid makes room for one line of a frame's title, the next would hide nodes
        title = label(item.title + (f" · {item.subtitle}" if item.subtitle else ""))
    lines.append(f'{pad}subgraph {cid}["{title}"]')
    lines.append(f"{pad}  direction {direction}")  # else frames follow the `calls` edges sideways
    for sub in item.items:
        _item(sub, ids, lines, pad + "  ", direction, frames)
    lines.append(f"{pad}end")
    frames.append(f"  class {cid} {item.mark or ('frozen' if item.frozen else FRAME_CLASSES[item.kind])}")
