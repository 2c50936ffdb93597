"""Recurrent state (initial states in, final states out), blocks and repeats of several inputs and
outputs (a transformer decoder layer fed `[x, memory]`), per-model `vars:` and the seq2seq_lstm
spec, each checked against torch: equal counts, equal state_dict keys, equal outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

import archspec
from archspec.backends.torch.pysrc import emit
from archspec.errors import ArchspecError

torch = pytest.importorskip("torch")
from references.seq2seq import SEQ2SEQ_PARAMS, Seq2Seq, seq2seq_params  # noqa: E402
from torch import nn  # noqa: E402

SEQ2SEQ = ROOT / "specs" / "seq2seq_lstm.yaml"
DEFAULT = "vars: {src_vocab: 1000, tgt_vocab: 1000, embed: 64, hidden: 128, layers: 1}"
SMALL = "vars: {src_vocab: 37, tgt_vocab: 29, embed: 12, hidden: 16, layers: 2}"


def _small_seq2seq() -> str:
    """The shipped spec with a small config (two layers, so states of several layers are passed)."""
    text = SEQ2SEQ.read_text()
    assert DEFAULT in text
    return text.replace(DEFAULT, SMALL)


def _close(got: Any, want: Any) -> None:
    """float32 outputs equal: max |diff| <= 1e-5 * max |reference|."""
    assert got.shape == want.shape
    assert (got - want).abs().max().item() <= 1e-5 * want.abs().max().item() + 1e-7


def _emitted(spec: archspec.Spec, model: str | None = None) -> nn.Module:
    """The standalone source's class for the model, built fresh."""
    name = spec.pick(model)[0]
    namespace: dict[str, Any] = {"__name__": "emitted"}
    exec(compile(emit([archspec.analyze(spec, name)]), "emitted.py", "exec"), namespace)
    cls = next(c for c in namespace["__all__"] if c.lower() == name.replace("_", "").lower())
    module: nn.Module = namespace[cls]()
    return module.eval()


def _flat(y: Any) -> list[Any]:
    return list(y) if isinstance(y, tuple) else [y]


# recurrent state -----------------------------------------------------------------------------

STATEFUL = {
    "lstm": (nn.LSTM, ("h", "c")),
    "gru": (nn.GRU, ("h",)),
    "rnn": (nn.RNN, ("h",)),
}


@pytest.mark.parametrize("kind", sorted(STATEFUL))
@pytest.mark.parametrize(("layers", "bidi"), [(1, False), (2, True)])
def test_initial_state_in_and_final_state_out_match_torch(kind: str, layers: int, bidi: bool) -> None:
    cls, states = STATEFUL[kind]
    dirs = 2 if bidi else 1
    decl = ", ".join(f"{s}0: [{layers * dirs}, batch, 6]" for s in states)
    refs = ", ".join(f"{s}0" for s in states)
    text = (
        f"inputs: {{x: [batch, seq, 5], {decl}}}\nlayers:\n"
        f"  - {{name: rec, {kind}: {{hidden: 6, layers: {layers}, bidirectional: {str(bidi).lower()}}},"
        f" inputs: [x, {refs}]}}\n"
        f"outputs: [rec, {', '.join(f'rec.{s}' for s in states)}]\n"
    )
    spec = archspec.load_text(text)
    a = archspec.analyze(spec)
    want_state = (layers * dirs, "batch", 6)
    assert [tuple(t.shape) for t in a.outputs.values()] == [("batch", "seq", 6 * dirs)] + [want_state] * len(
        states
    )
    assert list(a.outputs) == ["rec", *states]
    model = archspec.build(spec, seed=0).eval()
    ref = cls(5, 6, layers, batch_first=True, bidirectional=bidi).eval()
    ref.load_state_dict({k.removeprefix("rec."): v for k, v in model.state_dict().items()})
    assert a.total_params == sum(p.numel() for p in ref.parameters())
    inputs = archspec.example_inputs(spec, sizes={"batch": 3, "seq": 7}, seed=1)
    x, *given = inputs
    with torch.no_grad():
        seq, final = ref(x, tuple(given) if len(given) == 2 else given[0])
        finals = list(final) if isinstance(final, tuple) else [final]
        got = _flat(model(*inputs))
        again = _emitted(spec)
        again.load_state_dict(model.state_dict())
        emitted = _flat(again(*inputs))
    for y, z, want in zip(got, emitted, [seq, *finals], strict=True):
        _close(y, want)
        assert torch.equal(y, z)
    # the states matter: zero states give another result
    with torch.no_grad():
        assert not torch.allclose(ref(x)[0], seq)


def test_default_output_and_counts_of_existing_specs_are_kept() -> None:
    a = archspec.analyze(archspec.load(ROOT / "specs" / "lstm_classifier.yaml"))
    assert a.total_params == 12_051
    assert list(a.outputs) == ["sigmoid1"] and a.outputs["sigmoid1"].shape == ("batch", 1)
    lstm = a.node("lstm")
    assert list(lstm.outs) == ["out", "h", "c"]
    assert lstm.outs["out"].shape == ("batch", 50)
    assert lstm.outs["h"].shape == lstm.outs["c"].shape == (1, "batch", 50)


def test_a_repeated_recurrent_layer_stacks_on_the_sequence_or_hands_on_its_state() -> None:
    text = "inputs: {x: [batch, seq, 4], h0: [1, batch, 4]}\nlayers:\n  - {name: r, gru: 4, repeat: 3}\n"
    spec = archspec.load_text(text.replace(", h0: [1, batch, 4]", ""))
    model = archspec.build(spec, seed=0).eval()
    (x,) = archspec.example_inputs(spec, seed=2)
    grus = [nn.GRU(4, 4, batch_first=True) for _ in range(3)]
    for i, g in enumerate(grus):
        g.load_state_dict(model.get_submodule(f"r.{i}").state_dict())
    with torch.no_grad():
        y = x
        for g in grus:  # each copy starts from zeros, as stacked layers
            y, h = g(y)
        got = _flat(model(x))
    _close(got[0], y)
    assert archspec.analyze(spec).outputs["r"].shape == ("batch", "seq", 4)

    chained = archspec.load_text(text.replace("gru: 4,", "gru: 4, inputs: [x, h0],") + "outputs: [r, r.h]\n")
    a = archspec.analyze(chained)
    assert list(a.node("r").outs) == ["out", "h"]  # the last copy's outputs
    model = archspec.build(chained, seed=0).eval()
    for i, g in enumerate(grus):
        g.load_state_dict(model.get_submodule(f"r.{i}").state_dict())
    x, h0 = archspec.example_inputs(chained, seed=2)
    with torch.no_grad():
        y, h = x, h0
        for g in grus:  # each copy starts from the state the previous one ended in
            y, h = g(y, h)
        got = _flat(model(x, h0))
    _close(got[0], y)
    _close(got[1], h)


def test_onnx_export_keeps_the_initial_states(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    text = _small_seq2seq()
    for kind in ("lstm", "gru"):
        spec = archspec.load_text(text if kind == "lstm" else _as_gru(text))
        report = archspec.export_onnx(spec, tmp_path / f"{kind}.onnx")
        assert report.max_abs_diff <= report.atol
        graph = onnx.load(str(tmp_path / f"{kind}.onnx")).graph
        cells = [n for n in graph.node if n.op_type == kind.upper()]
        assert len(cells) == 4  # one per layer: the encoder's two, then the decoder's
        # inputs: X, W, R, B, sequence_lens, initial_h (, initial_c); the decoder starts from
        # the encoder's final state, not from the zeros the encoder starts from
        zeros = {c.input[5] for c in cells[:2]}
        assert all(c.input[5] and c.input[5] not in zeros for c in cells[2:])


def _as_gru(text: str) -> str:
    return text.replace("lstm:", "gru:").replace(", encoder.c]", "]")


# seq2seq_lstm ------------------------------------------------------------------------------------


def test_seq2seq_count_and_keys_equal_the_reference() -> None:
    spec = archspec.load(SEQ2SEQ)
    a = archspec.analyze(spec)
    assert a.total_params == SEQ2SEQ_PARAMS == seq2seq_params(1000, 1000, 64, 128) == 455_656
    with torch.device("meta"):
        ref = Seq2Seq()
    built = archspec.build(spec, device="meta")
    assert {k: tuple(v.shape) for k, v in built.state_dict().items()} == {
        k: tuple(v.shape) for k, v in ref.state_dict().items()
    }


def test_seq2seq_outputs_equal_the_reference() -> None:
    spec = archspec.load_text(_small_seq2seq())
    assert archspec.analyze(spec).total_params == seq2seq_params(37, 29, 12, 16, 2)
    model = archspec.build(spec, seed=0).eval()
    ref = Seq2Seq(37, 29, 12, 16, 2).eval()
    ref.load_state_dict(model.state_dict())  # the same keys
    src, tgt = archspec.example_inputs(spec, sizes={"batch": 3, "src_len": 9, "tgt_len": 6}, seed=4)
    with torch.no_grad():
        want = ref(src, tgt)
        _close(model(src, tgt), want)
        again = _emitted(spec)
        again.load_state_dict(model.state_dict())
        assert torch.equal(again(src, tgt), model(src, tgt))
        # the encoder's state reaches the decoder: another source changes the logits
        other = (src + 1) % 37
        assert not torch.allclose(ref(other, tgt), want)


# blocks and repeats with several inputs ----------------------------------------------------------

DECODER = """
vars: {d: 16, heads: 4, ff: 40, n: 3}
blocks:
  decoder_layer:
    doc: a post-norm transformer decoder layer (nn.TransformerDecoderLayer's names)
    args: {heads: int, ff: int}
    inputs: [x, memory]
    layers:
      - {name: self_attn, multihead_attention: {heads: $heads, causal: true}, inputs: x}
      - {name: res1, add: [x, self_attn]}
      - {name: norm1, layer_norm}
      - {name: multihead_attn, multihead_attention: $heads, inputs: [norm1, memory]}
      - {name: res2, add: [norm1, multihead_attn]}
      - {name: norm2, layer_norm}
      - {name: linear1, linear: $ff}
      - relu
      - {name: linear2, linear: $x.features}
      - {name: res3, add: [norm2, linear2]}
      - {name: norm3, layer_norm}
inputs: {tgt: [batch, tgt_len, $d], memory: [batch, src_len, $d]}
layers:
  - {name: layers, decoder_layer: {heads: $heads, ff: $ff}, inputs: [tgt, memory], repeat: $n}
"""


def test_repeated_decoder_layer_equals_torch_transformer_decoder() -> None:
    spec = archspec.load_text(DECODER)
    a = archspec.analyze(spec)
    layer = nn.TransformerDecoderLayer(16, 4, 40, dropout=0.0, batch_first=True)
    ref = nn.TransformerDecoder(layer, num_layers=3).eval()
    # per layer: two attentions of 1,088, feed-forward 680 + 656, three norms of 32
    assert a.total_params == sum(p.numel() for p in ref.parameters()) == 3 * 3_608
    model = archspec.build(spec, seed=0).eval()
    with torch.no_grad():  # layer norms away from identity, so every one of them counts
        for name, p in model.named_parameters():
            if ".norm" in name:
                p.copy_(torch.randn_like(p) * 0.5 + (1.0 if name.endswith("weight") else 0.0))
    ref.load_state_dict(model.state_dict())  # the same keys: layers.0.self_attn.in_proj_weight...
    tgt, memory = archspec.example_inputs(spec, sizes={"batch": 2, "tgt_len": 5, "src_len": 7}, seed=5)
    mask = nn.Transformer.generate_square_subsequent_mask(5)
    with torch.no_grad():
        want = ref(tgt, memory, tgt_mask=mask, tgt_is_causal=True)
        got = model(tgt, memory)
        _close(got, want)
        again = _emitted(spec)
        again.load_state_dict(model.state_dict())
        assert torch.equal(again(tgt, memory), got)
        # memory is fed to every copy: changing it changes the last copy's result
        assert not torch.allclose(model(tgt, memory + 1), got)


def test_two_input_block_fed_one_input_names_what_it_declares() -> None:
    text = DECODER.replace("inputs: [tgt, memory], repeat", "inputs: [tgt], repeat")
    with pytest.raises(ArchspecError) as err:
        archspec.load_text(text)
    assert err.value.code == "arity"
    assert "'decoder_layer' takes 2 inputs (x, memory), got 1" in err.value.message


def test_a_block_fed_more_inputs_than_it_declares_says_how_to_declare_them() -> None:
    text = (
        "blocks:\n  cross:\n    layers:\n      - {multihead_attention: 2, inputs: [input, memory]}\n"
        "inputs: {x: [batch, s, 8], m: [batch, t, 8]}\nlayers:\n  - {cross: {}, inputs: [x, m], repeat: 2}\n"
    )
    with pytest.raises(ArchspecError) as err:
        archspec.load_text(text, name="s.yaml")
    e = err.value
    assert e.code == "arity" and e.loc is not None and e.loc.line == 7
    assert "'cross' takes 1 input (input), got 2" in e.message
    assert "declares its inputs as [input] (the default)" in (e.hint or "")
    assert "`inputs: [x1, x2]`" in (e.hint or "")
    fixed = text.replace("    layers:", "    inputs: [input, memory]\n    layers:")
    assert archspec.analyze(archspec.load_text(fixed)).total_params == 2 * (3 * 8 * 8 + 3 * 8 + 8 * 8 + 8)


@pytest.mark.parametrize(
    ("text", "code", "line", "says"),
    [
        (  # lstm needs both h0 and c0
            "inputs: {x: [batch, seq, 4], h0: [1, batch, 8]}\nlayers:\n  - {lstm: 8, inputs: [x, h0]}\n",
            "arity",
            3,
            "lstm takes its initial state as 2 inputs after the sequence (h0, c0), or none",
        ),
        (  # a bidirectional encoder's state into a one-directional decoder
            "inputs: {a: [batch, s, 4], b: [batch, t, 4]}\nlayers:\n"
            "  - {name: enc, gru: {hidden: 8, bidirectional: true}, inputs: a}\n"
            "  - {name: dec, gru: 8, inputs: [b, enc.h]}\n",
            "shape-mismatch",
            4,
            "give both the same `layers` and `bidirectional`",
        ),
        (  # a sequence where a state belongs
            "inputs: {a: [batch, s, 4], b: [batch, t, 4]}\nlayers:\n"
            "  - {name: enc, rnn: 8, inputs: a}\n  - {name: dec, rnn: 8, inputs: [b, enc]}\n",
            "shape-mismatch",
            4,
            "feed the final state of another recurrent layer",
        ),
        (  # a block returning more outputs than it takes inputs cannot be chained
            "blocks:\n  fan:\n    inputs: [x]\n"
            "    layers: [{name: a, linear: 4}, {name: b, linear: 4, inputs: x}]\n"
            "    outputs: [a, b]\ninputs: {x: [batch, 4]}\nlayers:\n  - {name: f, fan: {}, repeat: 2}\n",
            "arity",
            8,
            "returns 2 outputs (a, b) but takes 1 input",
        ),
    ],
)
def test_state_and_repeat_mistakes_are_located(text: str, code: str, line: int, says: str) -> None:
    with pytest.raises(ArchspecError) as err:
        archspec.load_text(text, name="s.yaml")
    e = err.value
    assert e.code == code and e.loc is not None and e.loc.line == line, e
    assert says in f"{e.message} {e.hint}", e


def test_wrong_state_size_names_both_shapes() -> None:
    text = (
        "inputs: {a: [batch, s, 4], b: [batch, t, 4]}\nlayers:\n"
        "  - {name: enc, lstm: 32, inputs: a}\n  - {name: dec, lstm: 16, inputs: [b, enc.h, enc.c]}\n"
    )
    with pytest.raises(ArchspecError) as err:
        archspec.load_text(text, name="s.yaml")
    e = err.value
    assert e.loc is not None and e.loc.line == 4 and e.node == "dec"
    assert e.expected == "float32[1, batch, 16]"
    assert "h0 float32[1, batch, 32]" in (e.got or "") and "from 'enc.h', line 3" in (e.got or "")
    assert "hidden size 32, this layer 16" in (e.hint or "")


# per-model vars ----------------------------------------------------------------------------------

GAN = """
vars: {latent: 16, pixels: 64}
models:
  gan:
    inputs: {z: [batch, $latent]}
    layers:
      - {name: generator, generator}
      - {name: discriminator, discriminator, trainable: false}
  generator:
    vars: {hidden: $latent * 4}
    inputs: {z: [batch, $latent]}
    layers: [{linear: $hidden}, relu, {linear: $pixels}, tanh]
  discriminator:
    vars: {hidden: $pixels // 2, pixels: 1000}
    inputs: {image: [batch, 64]}
    layers: [{linear: $hidden}, leaky_relu, {linear: 1}, sigmoid]
"""


def test_each_model_of_a_gan_has_its_own_vars() -> None:
    spec = archspec.load_text(GAN)
    g = archspec.analyze(spec, "generator")
    d = archspec.analyze(spec, "discriminator")
    assert g.total_params == (16 * 64 + 64) + (64 * 64 + 64)  # hidden = latent * 4 = 64
    assert d.total_params == (64 * 32 + 32) + (32 + 1)  # hidden = pixels // 2 from the file's 64
    assert spec.scope("discriminator")["pixels"] == 1000  # a model's own var shadows the file's
    gan = archspec.analyze(spec, "gan")
    assert gan.totals.trainable == g.total_params and gan.totals.frozen == d.total_params
    model = archspec.build(spec, "gan", seed=0).eval()
    ref_g = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.Tanh())
    ref_d = nn.Sequential(nn.Linear(64, 32), nn.LeakyReLU(), nn.Linear(32, 1), nn.Sigmoid())
    for ref, sub in ((ref_g, "generator"), (ref_d, "discriminator")):
        weights = [p for _, p in model.get_submodule(sub).named_parameters()]
        for p, w in zip(ref.parameters(), weights, strict=True):
            p.data.copy_(w)
    (z,) = archspec.example_inputs(spec, "gan", sizes={"batch": 3}, seed=6)
    with torch.no_grad():
        _close(model(z), ref_d(ref_g(z)))


def test_a_model_var_error_is_located_in_that_model() -> None:
    text = GAN.replace("vars: {hidden: $latent * 4}", "vars: {hidden: $latnet * 4}")
    with pytest.raises(ArchspecError) as err:
        archspec.load_text(text, name="s.yaml")
    assert err.value.code == "expression" and err.value.loc is not None and err.value.loc.line == 10
