"""`archspec diff`: nodes matched by path, block by block, in text, JSON and a marked diagram.

Expected numbers are independent of archspec: torchvision's model cards (resnet18
11,689,512, resnet50 25,557,032 parameters; their `layer1` 147,968 and 215,808) and GPT-2's
hand count (124,439,808; the tiny variant's 7,259,008 is worked out in its file).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
from pathlib import Path

import pytest
from conftest import ROOT
from test_diagram import PROGRAMS, parse_mermaid

from archspec.backends.diff import diff, to_json
from archspec.backends.diffview import add_diff_command, diff_drawing, format_text
from archspec.errors import ArchspecError

R18, R50 = ROOT / "specs" / "resnet18.yaml", ROOT / "specs" / "resnet50.yaml"
GPT2, TINY = (
    ROOT / "tests" / "specs" / "gpt2_torch_layers.yaml",
    ROOT / "tests" / "diff_specs" / "gpt2_tiny.yaml",
)


def run(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="archspec")
    add_diff_command(parser.add_subparsers())
    args = parser.parse_args(["diff", *argv])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = args.func(args)
    return code, out.getvalue()


def rows(text: str) -> dict[str, list[str]]:
    """Node rows of the text table: name -> its cells (split on two or more spaces)."""
    out = {}
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("   Node  "))
    for line in lines[start:]:
        if line[:1] in "~+- " and len(line) > 3 and line[1:3] == "  " and not line.startswith("---"):
            cells = re.split(r" {2,}", line[3:].strip())
            out[cells[0]] = [line[0], *cells[1:]]
    return out


def test_resnet18_to_resnet50_block_by_block() -> None:
    code, text = run(str(R18), str(R50))
    assert code == 0
    assert "Total params                    11,689,512            25,557,032  +13,867,520 (+118.6%)" in text
    r = rows(text)
    assert r["layer1"][:4] == ["~", "basic ×2 → bottleneck ×3", "147,968 → 215,808", "+67,840"]
    assert r["layer4"][1] == "basic ×2 → bottleneck ×3"
    assert r["layer3"][1] == "basic ×2 → bottleneck ×6"
    assert r["conv1"][0] == " " and r["fc"][2] == "513,000 → 2,049,000"
    assert "[batch, 64, 56, 56] → [batch, 256, 56, 56]" in r["layer1"]
    stages = [f"layer{i}" for i in range(1, 5)]
    assert list(r) == ["Node", "conv1", "bn1", "relu1", "maxpool", *stages, "avgpool", "fc"]


def test_resnet_json_matches_every_node() -> None:
    d = to_json(diff(R18, R50))
    (m,) = d["models"]
    assert m["totals"]["total_params"] == {"a": 11_689_512, "b": 25_557_032, "delta": 13_867_520}
    nodes = {n["path"]: n for n in m["nodes"]}
    assert nodes["layer1"]["a"]["params"] == 147_968 and nodes["layer1"]["b"]["params"] == 215_808
    assert nodes["layer1.2"]["status"] == "added" and nodes["layer1.2"]["a"] is None
    assert nodes["layer1.0.conv3"]["status"] == "added"
    assert nodes["layer1.0"]["status"] == "changed" and "inside" in nodes["layer1.0"]["changes"]
    assert nodes["conv1"]["status"] == "same" and nodes["conv1"]["changes"] == []
    assert m["counts"]["removed"] == 0 and m["counts"]["added"] == len(
        [n for n in m["nodes"] if n["a"] is None]
    )
    json.dumps(d)  # plain data


def test_two_gpt2_sizes() -> None:
    code, text = run(str(GPT2), str(TINY), "--depth", "2")
    assert code == 0
    assert "124,439,808" in text and "7,259,008" in text
    r = rows(text)
    kinds = "transformer_encoder_layer ×12 → transformer_encoder_layer ×4"
    assert r["h"][:3] == ["~", kinds, "85,054,464 → 793,088"]
    assert r["h"][-1] == "layers inside: 8 removed, 4 changed"
    assert r["0"][0] == "~" and "heads: 12 → 4; dim_feedforward: 3072 → 512" in r["0"][-1]
    assert [r[str(i)][0] for i in range(4, 12)] == ["-"] * 8
    assert r["wte"][-1] == "dim: 768 → 128"
    assert "9 changed, 0 added, 8 removed" in text


def test_two_models_of_one_spec_and_unpaired_models() -> None:
    gan = ROOT / "specs" / "gan.yaml"
    d = diff(gan, gan, model="generator", model_b="discriminator")
    (m,) = d.models
    assert [(n.path, n.status) for n in m.nodes] == [
        ("hidden", "changed"),
        ("relu1", "changed"),
        ("image", "removed"),
        ("tanh1", "removed"),
        ("score", "added"),
        ("sigmoid1", "added"),
    ]
    same = diff(gan, gan)
    assert [m.a.model for m in same.models] == ["generator", "discriminator", "gan"]
    assert all(n.status == "same" for m in same.models for n in m.nodes)
    mixed = diff(gan, R18)
    assert mixed.models == [] and mixed.only_a == ["generator", "discriminator", "gan"]
    assert "only in B: model resnet18" in format_text(mixed)


def test_diagram_marks_the_changes(tmp_path: Path) -> None:
    (m,) = diff(GPT2, TINY).models
    d = diff_drawing(m, depth="all")
    marks = {b.id: b.mark for b in d.boxes() if b.mark}
    assert marks["wte"] == "changed" and all(marks[f"h.{i}"] == "changed" for i in range(4))
    wte = next(b for b in d.boxes() if b.id == "wte")
    assert "was Embedding, 38,597,376 params, [batch, seq, 768]" in wte.note
    assert any("removed: h.4, h.5, h.6, h.7, h.8, h.9 … (8)" in n for n in d.notes)
    (r,) = diff(R18, R50).models
    drawn = diff_drawing(r, depth="all")
    assert "layer1.0.conv3" in [b.id for b in drawn.boxes() if b.mark == "added"]
    assert {c.id: c.mark for c in drawn.clusters()}["cluster_layer1.2"] == "added"
    collapsed = diff_drawing(r)  # the default depth: blocks are boxes, marked alike
    assert {b.id: b.mark for b in collapsed.boxes()}["layer1.2"] == "added"
    assert run(str(GPT2), str(TINY), "--out", str(tmp_path / "d.mmd"))[0] == 0
    text = (tmp_path / "d.mmd").read_text()
    parse_mermaid(text)
    assert "classDef changed" in text and re.search(r"class c\d+ changed", text)


@pytest.mark.skipif(not PROGRAMS, reason="no dot program")
def test_diff_svg(tmp_path: Path) -> None:
    code, text = run(str(R18), str(R50), "-o", str(tmp_path / "d.svg"))
    assert code == 0 and text.startswith("wrote ")
    svg = (tmp_path / "d.svg").read_text()
    assert "#fff3bf" in svg and "#d3f9d8" in svg  # changed and added fills


def test_errors_are_archspec_errors(tmp_path: Path) -> None:
    with pytest.raises(ArchspecError) as e:
        run(str(R18), str(tmp_path / "missing.yaml"))
    assert e.value.code == "file-not-found"
    with pytest.raises(ArchspecError) as e:
        run(str(ROOT / "specs" / "gan.yaml"), str(ROOT / "specs" / "gan.yaml"), "-o", str(tmp_path / "x.svg"))
    assert e.value.code == "unsupported" and "--model" in (e.value.hint or "")
    with pytest.raises(ArchspecError):
        run(str(R18), str(R50), "--depth", "0")
