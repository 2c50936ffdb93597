"""The Hugging Face references of tests/references/hf.py: published counts on the meta device, the
state_dict layout that HF_NOTES.md describes, and tiny forward passes checked against the notes'
own re-implementation (tests/references/hf_functional.py). Skipped when transformers is missing."""

from __future__ import annotations

from typing import Any

import pytest
import torch

pytest.importorskip("transformers")

import transformers as tf
from references.hf import REFERENCES, TIED, count, perturb
from references.hf_configs import LLAMA31_ROPE, LLAMA_SMALL
from references.hf_functional import FUNCTIONAL, causal_lm, rope_inv_freq

NAMES = sorted(REFERENCES)
RTOL = 1e-5  # max |difference| <= RTOL * max |reference output|


def close(got: torch.Tensor, want: torch.Tensor) -> bool:
    return got.shape == want.shape and float((got - want).abs().max()) <= RTOL * float(want.abs().max())


def shapes(name: str, c: Any, batch: int, seq: int) -> list[tuple[int, ...]]:
    """Output shapes of the tiny configurations, from the configs (what each docstring promises)."""
    return {
        "gpt2": lambda: [(batch, seq, c.vocab_size)],
        "bert_base": lambda: [(batch, seq, c.hidden_size), (batch, c.hidden_size)],
        "llama3_8b": lambda: [(batch, seq, c.vocab_size)],
        "mistral_7b": lambda: [(batch, seq, c.vocab_size)],
        "t5_small": lambda: [(batch, seq - 2, c.vocab_size), (batch, seq, c.d_model)],
        "whisper_tiny": lambda: [(batch, seq, c.vocab_size), (batch, c.max_source_positions, c.d_model)],
        "clip_vit_b_32": lambda: [(batch, batch), (batch, c.projection_dim), (batch, c.projection_dim)],
    }[name]()


@pytest.mark.parametrize("name", NAMES)
def test_published_config_on_meta_has_the_published_count_and_layout(name: str) -> None:
    ref = REFERENCES[name]
    model = ref.build(published=True)
    assert count(model) == ref.published_params
    assert all(p.is_meta for p in model.parameters())
    sd = model.state_dict()
    # every state_dict entry is a parameter: no buffer is persistent (position ids, rotary inv_freq)
    assert set(sd) == {k for k, _ in model.named_parameters(remove_duplicate=False)}
    # tied weights: one parameter under two keys, both in state_dict, counted once
    tied = TIED.get(name, {})
    for key, source in tied.items():
        assert model.get_parameter(key) is model.get_parameter(source)
    assert sum(v.numel() for v in sd.values()) - count(model) == sum(sd[k].numel() for k in tied)


@pytest.mark.parametrize("name", NAMES)
def test_tiny_config_matches_the_notes_reimplementation(name: str) -> None:
    ref = REFERENCES[name]
    hf = ref.build()
    eager = ref.build(attn_implementation="eager")
    impls = {m.config._attn_implementation for m in eager.modules() if hasattr(m, "config")}
    assert impls == {"eager"}  # the choice reached every sub-model (T5 copies its config)
    sd = hf.state_dict()
    for batch, seq in ((1, 5), (3, 11)):
        x = ref.inputs(hf.config, batch, seq)
        want = ref.outputs(hf, x)
        assert [tuple(v.shape) for v in want.values()] == shapes(name, hf.config, batch, seq)
        assert all(torch.isfinite(v).all() for v in want.values())
        with torch.no_grad():
            got = FUNCTIONAL[name](sd, hf.config, x)
        assert list(got) == list(want)
        for key in want:
            assert close(got[key], want[key]), (name, key)
            assert close(ref.outputs(eager, x)[key], want[key]), (name, key)
    # strict loading into a differently initialised copy reproduces the outputs: the state_dict
    # holds everything (the non-persistent buffers are rebuilt from the config)
    other = ref.build(seed=1)
    x = ref.inputs(hf.config, 2, 7)
    assert not close(ref.output(other, x), ref.output(hf, x))
    other.load_state_dict(sd, strict=True)
    assert torch.equal(ref.output(other, x), ref.output(hf, x))


def test_small_llama_count_by_formula() -> None:
    c = LLAMA_SMALL
    v, h, i, n, kv = (
        c[k]
        for k in (
            "vocab_size",
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_key_value_heads",
        )
    )
    hd = h // c["num_attention_heads"]
    layer = h * h + 2 * h * kv * hd + h * h + 3 * h * i + 2 * h  # q, k+v, o, gate+up+down, two norms
    expected = v * h + n * layer + h + v * h  # embedding, layers, final norm, untied head
    assert expected == 108_864
    assert count(REFERENCES["llama3_8b"].build()) == expected


def test_llama3_rope_scaling_is_static_and_changes_short_sequences() -> None:
    torch.manual_seed(0)
    config = tf.LlamaConfig(**dict(LLAMA_SMALL, rope_parameters=LLAMA31_ROPE))
    scaled = tf.LlamaForCausalLM(config).eval()
    perturb(scaled, 0)
    head_dim = LLAMA_SMALL["hidden_size"] // LLAMA_SMALL["num_attention_heads"]
    assert torch.equal(scaled.model.rotary_emb.inv_freq, rope_inv_freq(head_dim, LLAMA31_ROPE))
    plain = REFERENCES["llama3_8b"].build()
    plain.load_state_dict(scaled.state_dict(), strict=True)
    ref = REFERENCES["llama3_8b"]
    x = ref.inputs(config, 2, 11)
    want = ref.output(scaled, x)
    with torch.no_grad():
        assert close(causal_lm(scaled.state_dict(), config, x)["logits"], want)
    # the rescaled frequencies change the output even far below original_max_position_embeddings
    assert not close(ref.output(plain, x), want)
    # head_dim 16, theta 5e5: four frequencies kept, one interpolated, three divided by 8
    ratio = rope_inv_freq(head_dim, LLAMA31_ROPE) / rope_inv_freq(head_dim, LLAMA_SMALL["rope_parameters"])
    assert torch.equal(ratio[:4], torch.ones(4)) and 0.125 < float(ratio[4]) < 1
    assert torch.allclose(ratio[5:], torch.full((3,), 0.125))
