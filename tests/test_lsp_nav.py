"""Hover, go-to-definition and completion of the language server, on the text directly."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.layers import registry
from archspec.lsp.collect import check_text
from archspec.lsp.complete import complete
from archspec.lsp.nav import Nav

ROOT = Path(__file__).resolve().parents[1]
RESNET18 = (ROOT / "specs" / "resnet18.yaml").read_text()


def find(text: str, needle: str, offset: int = 0) -> tuple[int, int]:
    for line, content in enumerate(text.splitlines()):
        if needle in content:
            return line, content.index(needle) + offset
    raise AssertionError(needle)


def nav_of(text: str) -> Nav:
    return Nav(check_text(text, "t.yaml"))


def test_hover_model_entry() -> None:
    nav = nav_of(RESNET18)
    found = nav.hover(find(RESNET18, "{name: layer1,", 3))
    assert found is not None
    text, span = found
    # torchvision's resnet18.layer1: two basic blocks of two 3x3 convs (64 -> 64) and two batch norms
    per_block = 2 * (64 * 64 * 9) + 2 * (2 * 64)
    assert text.startswith("**layer1** · `basic` ×2")
    assert f"params **{2 * per_block:,}**" in text
    assert "output `float32[batch, 64, 56, 56]`" in text
    assert span.start == find(RESNET18, "{name: layer1,")


def test_hover_block_entry_lists_instances() -> None:
    nav = nav_of(RESNET18)
    found = nav.hover(find(RESNET18, "{name: conv2, conv2d"))
    assert found is not None
    text = found[0]
    assert "8 instances in block `basic`" in text
    # layer3.1.conv2: 3x3, 256 -> 256 on 14x14
    params, macs = 256 * 256 * 9, 256 * 256 * 9 * 14 * 14
    assert f"| layer3.1.conv2 | `float32[batch, 256, 14, 14]` | {params:,} | {macs:,} |" in text


def test_hover_switched_off_entry_and_model_input() -> None:
    text = "inputs: {x: [batch, 16]}\nlayers:\n  - {name: a, linear: {out: 8, kernal: 3}}\n  - relu\n"
    nav = nav_of(text)
    found = nav.hover(find(text, "relu"))
    assert found is not None and "not checked" in found[0]
    nav = nav_of(RESNET18)
    found = nav.hover(find(RESNET18, "x: [batch, 3"))
    assert found is not None and "`float32[batch, 3, 224, 224]`" in found[0]


def test_definitions() -> None:
    nav = nav_of(RESNET18)
    assert nav.definition(find(RESNET18, "basic: {channels: 64}", 1)) == [
        nav.checked.index.keys[("blocks", "basic")]  # type: ignore[union-attr]
    ]
    at = find(RESNET18, "add: [bn2, downsample]", len("add: [bn2, d"))
    assert [s.start for s in nav.definition(at)] == [
        find(RESNET18, "{name: downsample, downsample", len("{name: ")),
        find(RESNET18, "{name: downsample, identity", len("{name: ")),
    ]
    at = find(RESNET18, "linear: $classes", len("linear: $cl"))
    assert [s.start for s in nav.definition(at)] == [find(RESNET18, "vars: {classes", len("vars: {"))]
    at = find(RESNET18, "out: $channels, kernel: 3, stride", len("out: $ch"))
    assert [s.start for s in nav.definition(at)] == [
        find(RESNET18, "args: {channels: int, stride: 1, project", 7)
    ]


def test_definition_of_automatic_name_and_tie() -> None:
    text = """\
inputs: {ids: {shape: [batch, seq], dtype: int64}}
layers:
  - {name: embed, embedding: {num: 100, dim: 16}}
  - relu
  - {linear: 100, inputs: relu1, tie: embed}
"""
    nav = nav_of(text)
    assert nav.checked.problems == []
    assert [s.start for s in nav.definition(find(text, "inputs: relu1", 9))] == [find(text, "relu")]
    assert [s.start for s in nav.definition(find(text, "tie: embed", 6))] == [find(text, "embedding")]


def test_completion_contexts() -> None:
    lines = RESNET18.splitlines(keepends=True)
    data = check_text(RESNET18, "t.yaml").source.data  # type: ignore[union-attr]

    def labels(line: str) -> list[str]:
        edited = [*lines, line]
        return [i.label for i in complete(edited, (len(edited) - 1, len(line)), data, {})]

    types = labels("  - ")
    assert set(registry()) | {"basic", "downsample"} <= set(types)
    assert len(types) == len(set(types))
    assert labels("  - {name: c, conv2d: {out: 8, ") == list(registry()["conv2d"].Params.model_fields)
    assert labels("  - {name: b, basic: {") == ["channels", "stride", "project"]
    assert labels("  - {name: j, concat: [conv1, ")[:2] == ["x", "conv1"]
    assert "classes" in labels("  - {name: f, linear: $cl")
    block = [*lines[: lines.index("      - relu\n") + 1], "      - {name: z, linear: $"]
    got = [i.label for i in complete(block, (len(block) - 1, len(block[-1])), data, {})]
    assert got[:3] == ["channels", "stride", "project"] and "classes" in got and "index" in got


def test_never_imports_torch() -> None:
    """Checking, hover, definition and completion are static: torch is never imported."""
    code = f"""
import sys
from archspec.lsp.collect import check_text
from archspec.lsp.complete import complete
from archspec.lsp.nav import Nav
text = open({str(ROOT / "specs" / "resnet50.yaml")!r}).read()
nav = Nav(check_text(text, "r.yaml"))
lines = text.splitlines(keepends=True)
for row in range(len(lines)):
    nav.hover((row, 8)); nav.definition((row, 8))
    complete(lines, (row, 4), nav.checked.source.data, {{}})
assert nav.analyses and "torch" not in sys.modules, sorted(m for m in sys.modules if "torch" in m)
"""
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_lsp_without_pygls_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from archspec.cli import main

    monkeypatch.setitem(sys.modules, "pygls", None)  # as if not installed
    assert main(["lsp"]) == 1
    err = capsys.readouterr().err
    assert "error[missing-dependency]: the language server needs pygls" in err
    assert "pip install 'archspec[lsp]'" in err
