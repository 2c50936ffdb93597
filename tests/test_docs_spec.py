"""docs/spec.md is what users (and the hidden checks) write specs from: every complete spec in it
checks, and every one that states its count (`# params: N` as its first line) has that count.
A block that is part of a shipped file says so on its first line (`# part of specs/...`)."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

import archspec

TEXT = (ROOT / "docs" / "spec.md").read_text()
BLOCKS = re.findall(r"```yaml\n(.*?)```", TEXT, flags=re.S)
# a complete spec: a top-level `layers:` (with `inputs:`) or `models:`, and not marked as a part
COMPLETE = [
    b
    for b in BLOCKS
    if not b.startswith("# part of")
    and (re.search(r"(?m)^models:", b) or (re.search(r"(?m)^inputs:", b) and re.search(r"(?m)^layers:", b)))
]
STATED = [b for b in BLOCKS if b.startswith("# params: ")]


def block_id(block: str) -> str:
    first = block.split("\n", 1)[0]
    name = re.search(r"(?m)^name: (\w+)", block)
    return (name.group(1) if name else "") + (f"[{first[2:]}]" if first.startswith("# params") else "")


def test_the_page_has_complete_specs_and_stated_counts() -> None:
    # guards against a regex that silently matches nothing
    assert len(COMPLETE) >= 14 and len(STATED) >= 5


@pytest.mark.parametrize("block", COMPLETE, ids=[block_id(b) for b in COMPLETE])
def test_every_complete_spec_checks(block: str) -> None:
    analysis = archspec.analyze(archspec.load_text(block, name="spec.md"))
    assert analysis.outputs  # it checked (analyze raises otherwise) and has outputs


@pytest.mark.parametrize("block", STATED, ids=[block_id(b) for b in STATED])
def test_stated_counts_are_exact(block: str) -> None:
    stated = int(block.split("\n", 1)[0].removeprefix("# params: ").replace(",", ""))
    assert archspec.analyze(archspec.load_text(block, name="spec.md")).total_params == stated
