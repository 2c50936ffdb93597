"""What a layer knows about itself: which parameters penalties act on, which one a `tie:`
shares, and PyTorch's names for its settings (used in error hints)."""

from __future__ import annotations

import pytest

import archspec
from archspec.errors import ArchspecError
from archspec.layers import registry

ENCODER = """
inputs: {x: [batch, seq, 16]}
layers:
  - {name: enc, transformer_encoder_layer: {heads: 2, dim_feedforward: 32}, regularizer: {l2: 0.25}}
  - {name: norm, layer_norm, regularizer: {l2: 1.0}}
"""


def test_penalties_skip_norms_and_biases() -> None:
    torch = pytest.importorskip("torch")
    model = archspec.build(archspec.load_text(ENCODER), seed=0)
    enc = model.get_submodule("enc")
    matrices = ["self_attn.in_proj_weight", "self_attn.out_proj.weight", "linear1.weight", "linear2.weight"]
    want = 0.25 * sum(enc.get_parameter(n).pow(2).sum() for n in matrices)
    assert torch.allclose(model.regularization_loss(), want)
    everything = 0.25 * sum(w.pow(2).sum() for n, w in enc.named_parameters() if "weight" in n)
    assert not torch.allclose(model.regularization_loss(), everything)  # norm weights are left out


@pytest.mark.parametrize("name", sorted(registry()))
def test_penalized_parameters_exist(name: str) -> None:
    layer = registry()[name]
    for params, xs in layer.examples:
        p = layer.Params.model_validate(params)
        assert set(layer.penalized(p, xs)) <= set(layer.weights(p, xs))
        if layer.tied is not None:
            assert layer.tied in layer.weights(p, xs)


def test_tie_needs_a_layer_that_can_be_tied() -> None:
    text = "inputs: {x: [batch, 8]}\nlayers:\n  - {name: n, layer_norm}\n  - {layer_norm, tie: n}\n"
    with pytest.raises(ArchspecError) as err:
        archspec.load_text(text)
    assert err.value.code == "bad-value" and err.value.loc is not None and err.value.loc.line == 4


@pytest.mark.parametrize(
    ("entry", "hint"),
    [
        ("{linear: {out_features: 3}}", "archspec writes PyTorch's 'out_features' as 'out'"),
        ("{linear: {out: 3, in_features: 8}}", "'in_features' is inferred from the input's shape"),
        ("{lstm: {hidden_size: 3}}", "archspec writes PyTorch's 'hidden_size' as 'hidden'"),
    ],
)
def test_pytorch_names_get_a_hint(entry: str, hint: str) -> None:
    with pytest.raises(ArchspecError) as err:
        archspec.load_text(f"inputs: {{x: [batch, 5, 8]}}\nlayers:\n  - {entry}\n")
    assert hint in (err.value.hint or "")
