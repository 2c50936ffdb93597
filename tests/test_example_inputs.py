"""``archspec.example_inputs`` draws integer ids over the whole range every consumer accepts."""

from __future__ import annotations

import pytest
from conftest import ROOT

import archspec
from archspec.passes.flow import id_high

torch = pytest.importorskip("torch")

NESTED = """
blocks:
  lookup:
    args: {num: int}
    layers:
      - {name: ids, reshape: [-1]}
      - {name: table, embedding: {num: $num, dim: 4}}
models:
  encoder:
    inputs: {tokens: {shape: [batch, seq], dtype: int64}}
    layers:
      - {name: wide, embedding: {num: 900, dim: 4}}
  main:
    inputs: {ids: {shape: [batch, seq], dtype: int64%s}}
    layers:
      - {name: a, lookup: 1000, repeat: 1, inputs: ids}
      - {name: b, encoder, inputs: ids}
      - {name: c, select: 0, inputs: ids}
      - {name: d, lookup: 700, inputs: c}
      - {name: out, add: [a, b]}
    outputs: [out, d]
"""


def test_bert_ids_spread_over_the_vocabulary() -> None:
    spec = archspec.load(ROOT / "specs" / "transformer_encoder.yaml")
    ids, types = archspec.example_inputs(spec, sizes={"batch": 64, "seq": 32})
    assert int(ids.min()) >= 0 and int(ids.max()) < 30522
    assert int(ids.max()) > 30522 // 2 and int(ids.min()) < 30522 // 2  # 2,048 draws over [0, 30522)
    assert len(ids.unique()) > 1900
    assert set(types.unique().tolist()) == {0, 1}  # its `high: 2`


def test_ids_are_followed_through_blocks_repeats_model_calls_and_integer_layers() -> None:
    """Every consumer bounds the ids: the smallest vocabulary wins (700, reached through a
    `select` and a block), not the first consumer's (1000, in a repeated block) or 900 (a model)."""
    spec = archspec.load_text(NESTED % "", name="nested.yaml")
    graph = archspec.analyze(spec, "main").graph
    assert id_high(graph, "ids") == 700
    (ids,) = archspec.example_inputs(spec, "main", sizes={"batch": 50, "seq": 40})
    assert int(ids.max()) < 700 and int(ids.max()) > 350


def test_high_on_the_input_overrides() -> None:
    spec = archspec.load_text(NESTED % ", high: 7", name="nested.yaml")
    (ids,) = archspec.example_inputs(spec, "main", sizes={"batch": 50, "seq": 40})
    assert set(ids.unique().tolist()) == set(range(7))


def test_ids_that_no_layer_bounds_are_zero_or_one() -> None:
    spec = archspec.load_text(
        "inputs: {ids: {shape: [batch, 4], dtype: int64}}\nlayers: [identity]\n", name="plain.yaml"
    )
    assert id_high(archspec.analyze(spec).graph, "ids") is None
    (ids,) = archspec.example_inputs(spec, sizes={"batch": 64})
    assert set(ids.unique().tolist()) == {0, 1}
