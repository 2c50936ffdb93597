"""How diagrams read in real clients: Mermaid frames keep their direction and classes, labels do
not wrap early, big models are drawn collapsed by default, SVG text is centred for any font."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_diagram import PROGRAM_PARAMS, ROOT, SVG, analyses, parse_mermaid

from archspec.backends.diagram import AUTO_NODES, build, render, to_mermaid
from archspec.backends.diagram.svg import center_text
from archspec.errors import ArchspecError

DCGAN = ROOT / "specs" / "dcgan.yaml"
RESNET50 = ROOT / "specs" / "resnet50.yaml"


@pytest.mark.parametrize("direction", ["TB", "LR"])
def test_every_mermaid_frame_states_its_direction_and_class(direction: str) -> None:
    d = build(analyses(DCGAN), direction=direction)
    text = to_mermaid(d)
    lines = [line.strip() for line in text.splitlines()]
    opened = [i for i, line in enumerate(lines) if line.startswith("subgraph ")]
    assert len(opened) == len(list(d.clusters())) > 0
    assert all(lines[i + 1] == f"direction {direction}" for i in opened)
    classes = dict(re.findall(r"^class (c\d+) (\w+)$", "\n".join(lines), re.MULTILINE))
    frames = [re.match(r"subgraph (c\d+)", lines[i])[1] for i in opened]  # type: ignore[index]
    assert set(classes) >= set(frames)
    kinds = [c.kind for c in d.clusters()]
    # the generator's 4 `up` blocks and the discriminator's 3 `down` blocks, each in a repeat
    assert kinds.count("repeat") == 2 and kinds.count("block") == 4 + 3
    assert sorted(classes[f] for f in frames) == sorted(
        {"model": "modelframe", "call": "model"}.get(k, k) for k in kinds
    )
    # frame classes come after every edge (an edge to a frame would reset a class set before it)
    last_edge = max(i for i, line in enumerate(lines) if "-->" in line or "-.->" in line)
    assert min(i for i, line in enumerate(lines) if line.startswith("class c")) > last_edge
    parse_mermaid(text)


def test_mermaid_labels_do_not_wrap_at_200px() -> None:
    text = to_mermaid(build(analyses(DCGAN)))
    front = text.split("---")[1]
    assert re.search(r"^    wrappingWidth: (\d+)$", front, re.MULTILINE)
    width = int(re.search(r"wrappingWidth: (\d+)", front)[1])  # type: ignore[index]
    assert width >= 600


def test_big_models_are_drawn_collapsed_by_default_and_say_so() -> None:
    a = analyses(RESNET50)
    auto, every = build(a), build(a, depth="all")
    assert len(list(every.boxes())) == 211
    assert len(list(auto.boxes())) <= AUTO_NODES
    assert auto.notes == ["211 nodes at full depth: drawn to depth 2; depth 4 draws every level"]
    assert len(list(build(a, depth=4).boxes())) == len(list(build(a, depth=99).boxes())) == 211
    assert build(a, depth=2).notes == [] and [c.kind for c in auto.clusters()] == ["repeat"] * 4
    small = analyses(DCGAN)  # 42 nodes: fully expanded, no note
    assert len(list(build(small).boxes())) == len(list(build(small, depth="all").boxes()))
    assert build(small).notes == []
    with pytest.raises(ArchspecError):
        build(a, depth="most")  # type: ignore[arg-type]


def test_default_depth_is_the_same_in_every_format(tmp_path: Path) -> None:
    a = analyses(RESNET50)
    mmd = render(a, tmp_path / "r.mmd").read_text()
    dot = render(a, tmp_path / "r.dot").read_text()
    boxes = len(list(build(a).boxes()))
    assert len(parse_mermaid(mmd).nodes) == boxes + 2  # the totals line and the note
    assert dot.count(" [label=<") == boxes
    assert "drawn to depth 2" in mmd and "drawn to depth 2" in dot


def _centres(data: bytes) -> list[tuple[float, float, str]]:
    """(box centre, text x, anchor) for every text line of every node."""
    out = []
    for g in ET.fromstring(data).iter(f"{SVG}g"):
        if g.get("class") != "node":
            continue
        shape = next(e for e in g if e.tag in (f"{SVG}polygon", f"{SVG}path", f"{SVG}ellipse"))
        if shape.tag == f"{SVG}ellipse":
            centre = float(shape.get("cx", "0"))
        else:
            raw = shape.get("points") or shape.get("d") or ""
            xs = [float(x) for x, _ in re.findall(r"(-?[\d.]+),(-?[\d.]+)", raw)]
            centre = (min(xs) + max(xs)) / 2
        out += [(centre, float(t.get("x", "0")), t.get("text-anchor", "")) for t in g.iter(f"{SVG}text")]
    return out


@pytest.mark.parametrize("program", PROGRAM_PARAMS)
def test_svg_text_is_centred_in_its_box(
    program: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCHSPEC_DOT", program)
    data = render(analyses(DCGAN), tmp_path / "d.svg").read_bytes()
    rows = _centres(data)
    assert len(rows) > 100
    assert all(anchor == "middle" and abs(x - centre) < 0.01 for centre, x, anchor in rows)
    # only the frames' titles (left-aligned, one per model) keep their start anchor
    assert data.count(b'text-anchor="start"') == 2 * 3


def test_center_text_leaves_lines_of_several_spans() -> None:
    svg = (
        b'<g id="node1" class="node"><title>a</title>'
        b'<polygon fill="none" stroke-dasharray="5,2" points="10,-20 90,-20 90,0 10,0"/>'
        b'<text text-anchor="start" x="20" y="-5">one</text>'
        b'<text text-anchor="start" x="20" y="-12">two</text>'
        b'<text text-anchor="start" x="40" y="-12">x</text>'
        b"</g>"
    )
    out = center_text(svg)
    assert b'<text text-anchor="middle" x="50" y="-5">one</text>' in out
    assert out.count(b'text-anchor="start"') == 2
