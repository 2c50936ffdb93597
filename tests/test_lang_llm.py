"""The Llama-family spec against Hugging Face (issue 14, item 3): specs/llama.yaml loads
``LlamaForCausalLM``'s state_dict with strict=True and gives its logits; variants of the same
file give Mistral (sliding window), Llama 3.1 (llama3 rope scaling), Qwen2 (q/k/v biases) and
Qwen3 (qk-norm, head_dim other than d/heads); the published Llama 3 8B and Mistral 7B vars give
their published counts and state_dict shapes. Layer-level checks are in test_lang_llm_layers.py.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from conftest import ROOT

import archspec

torch = pytest.importorskip("torch")
tf = pytest.importorskip("transformers")

from references.hf import REFERENCES, count, perturb  # noqa: E402
from references.hf_configs import LLAMA31_ROPE, LLAMA_SMALL  # noqa: E402

LLAMA = ROOT / "specs" / "llama.yaml"
TEXT = LLAMA.read_text()
RTOL = 1e-5  # max |difference| <= RTOL * max |reference output|
SIZES = [(2, 9), (3, 5)]  # (batch, seq)
LLAMA3_8B = dict(vocab=128256, hidden=4096, layers=32, heads=32, kv_heads=8, intermediate=14336)
MISTRAL_7B = dict(LLAMA3_8B, vocab=32000, rope_theta=10000.0)


def with_vars(text: str, **values: Any) -> str:
    """The spec with some of its `vars:` changed (each must be there once)."""
    for key, value in values.items():
        text, n = re.subn(rf"(?m)^  {key}: .*$", f"  {key}: {json.dumps(value)}", text)
        assert n == 1, key
    return text


def with_attention(text: str, **settings: Any) -> str:
    """The spec with settings of its `attention` entry set (replaced or added)."""
    for key, value in settings.items():
        line = f"          {key}: {json.dumps(value)}"
        text, n = re.subn(rf"(?m)^          {key}: .*$", line, text)
        if not n:
            text, n = re.subn(r"(?m)^        attention:$", f"        attention:\n{line}", text)
        assert n == 1, key
    return text


def build(text: str) -> Any:
    return archspec.build(archspec.load_text(text, name="llama_variant.yaml")).eval()


def hf_model(cls: str, config: dict[str, Any]) -> Any:
    """A tiny HF causal LM as tests/references/hf.py builds its references: seeded, every
    parameter perturbed so that norms are not ones, float32, eval, attention through sdpa."""
    cfg = getattr(tf, cls).config_class(**config)
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    model = getattr(tf, cls)(cfg)
    perturb(model, 0)
    return model.eval()


def max_rel_diff(model: Any, hf: Any, batch: int, seq: int) -> float:
    ids = torch.randint(0, hf.config.vocab_size, (batch, seq), generator=torch.Generator().manual_seed(seq))
    with torch.no_grad():
        want = hf(input_ids=ids, use_cache=False).logits
        got = model(ids)
    assert got.shape == want.shape
    return float((got - want).abs().max()) / float(want.abs().max())


def assert_same_model(text: str, hf: Any, sizes: list[tuple[int, int]] = SIZES) -> Any:
    """Equal counts, identical state_dict keys and shapes, strict load, equal logits."""
    model = build(text)
    assert archspec.analyze(archspec.load_text(text)).total_params == count(hf)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == {k: tuple(v.shape) for k, v in hf.state_dict().items()}
    model.load_state_dict(hf.state_dict(), strict=True)
    for batch, seq in sizes:
        assert max_rel_diff(model, hf, batch, seq) <= RTOL, (batch, seq)
    return model


# The shipped spec ---------------------------------------------------------------------------


def test_llama_spec_checks_with_its_stated_count() -> None:
    a = archspec.analyze(LLAMA)
    assert a.total_params == a.trainable_params == 108_864 == REFERENCES["llama3_8b"].build().num_parameters()
    assert a.buffers == 0
    assert "108,864" in TEXT.split("name: llama")[0]


def test_llama_spec_is_hf_llama_for_causal_lm() -> None:
    hf = REFERENCES["llama3_8b"].build()  # LLAMA_SMALL, perturbed, eval
    model = assert_same_model(TEXT, hf)
    # the comparison can fail: the same weights with another rope theta give other logits
    other = build(with_vars(TEXT, rope_theta=10000.0))
    other.load_state_dict(model.state_dict(), strict=True)
    assert max_rel_diff(other, hf, 2, 9) > 100 * RTOL


def test_mistral_sliding_window() -> None:
    hf = REFERENCES["mistral_7b"].build()  # window 4, theta 10000
    text = with_vars(TEXT, rope_theta=10000.0)
    assert_same_model(with_attention(text, sliding_window=4), hf, [(2, 9), (3, 11)])
    unwindowed = build(text)
    unwindowed.load_state_dict(hf.state_dict(), strict=True)
    assert max_rel_diff(unwindowed, hf, 2, 9) > 100 * RTOL


def test_llama31_rope_scaling() -> None:
    hf = hf_model("LlamaForCausalLM", dict(LLAMA_SMALL, rope_parameters=LLAMA31_ROPE))
    scaling = {"type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0}
    rope = {"theta": 500000.0, "scaling": {**scaling, "original_max_positions": 8192}}
    assert_same_model(with_attention(TEXT, rope=rope), hf, [(2, 11), (3, 7)])
    unscaled = build(TEXT)
    unscaled.load_state_dict(hf.state_dict(), strict=True)
    assert max_rel_diff(unscaled, hf, 2, 11) > RTOL  # 6.4e-5 of the maximum (HF_NOTES.md)


def test_qwen3_qk_norm_and_wider_heads() -> None:
    """Qwen3: RMSNorm per query and key head before the rotary embedding, and head_dim 24 with
    4 heads on a width of 64 (q_proj 64 -> 96, o_proj 96 -> 64)."""
    config = dict(LLAMA_SMALL, head_dim=24, rms_norm_eps=1e-6)
    config["rope_parameters"] = {"rope_type": "default", "rope_theta": 1000000.0}
    hf = hf_model("Qwen3ForCausalLM", config)
    assert hf.model.layers[0].self_attn.q_proj.weight.shape == (96, 64)
    text = with_vars(TEXT, eps=1e-6, rope_theta=1000000.0)
    assert_same_model(with_attention(text, head_dim=24, qk_norm={"eps": 1e-6}), hf)


def test_qwen2_biases_on_q_k_v_only() -> None:
    config = dict(LLAMA_SMALL, rope_parameters={"rope_type": "default", "rope_theta": 1000000.0})
    hf = hf_model("Qwen2ForCausalLM", config)
    text = with_vars(TEXT, rope_theta=1000000.0)
    bias = {"q": True, "k": True, "v": True, "o": False}
    model = assert_same_model(with_attention(text, bias=bias), hf)
    assert "model.layers.0.self_attn.q_proj.bias" in model.state_dict()
    assert "model.layers.0.self_attn.o_proj.bias" not in model.state_dict()


# The published configurations, statically and on the meta device ------------------------------


@pytest.mark.parametrize(
    ("name", "values", "total"),
    [("llama3_8b", LLAMA3_8B, 8_030_261_248), ("mistral_7b", MISTRAL_7B, 7_241_732_096)],
)
def test_published_vars_give_published_counts(name: str, values: dict[str, Any], total: int) -> None:
    text = with_vars(TEXT, **values)
    if name == "mistral_7b":
        text = with_attention(text, sliding_window=4096)
    start = time.perf_counter()
    a = archspec.analyze(archspec.load_text(text))
    seconds = time.perf_counter() - start
    assert a.total_params == total == REFERENCES[name].published_params, seconds
    assert f"{total:,}" in TEXT.split("name: llama")[0]


def test_llama3_8b_on_meta_has_hf_state_dict_shapes() -> None:
    ours = archspec.build(archspec.load_text(with_vars(TEXT, **LLAMA3_8B)), device="meta")
    hf = REFERENCES["llama3_8b"].build(published=True)
    assert all(p.is_meta for p in ours.parameters())
    want = {k: tuple(v.shape) for k, v in hf.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == want
    assert len(want) == 291


# Static MACs agree with torch's flop counter (FlopCounterMode / 2) ---------------------------


def test_llama_matmul_macs_match_flop_counter() -> None:
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    a = archspec.analyze(LLAMA, sizes={"batch": 2, "seq": 7})
    matmuls = sum(m for path, m in a.node_macs.items() if a.node(path).type in ("attention", "linear"))
    model = archspec.build(LLAMA).eval()
    ids = torch.randint(0, 128, (2, 7))
    # the math backend writes sdpa as matmuls, which the counter sees (the CPU's fused kernel it does not)
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter, torch.no_grad():
        model(ids)
    assert matmuls == counter.get_total_flops() // 2
    # per layer: q, k, v, o projections, the two attention products, gate, up and down
    per_layer = 2 * 7 * (64 * 64 + 2 * 64 * 32 + 64 * 64) + 2 * 2 * 4 * 7 * 7 * 16 + 3 * 2 * 7 * 64 * 176
    assert matmuls == 2 * per_layer + 2 * 7 * 64 * 128


# docs/spec.md's LLM section: its Llama 3 8B is the spec with the published vars ----------------


def doc_specs() -> list[tuple[str, str]]:
    text = (ROOT / "docs" / "spec.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    return [(b, m.group(1)) for b in blocks if (m := re.match(r"# params: ([\d,]+)\n", b))]


def test_docs_llama3_8b_is_the_spec_with_published_vars() -> None:
    text = next(t for t, c in doc_specs() if c == "8,030,261,248")
    ours = archspec.build(archspec.load_text(text), device="meta").state_dict()
    want = REFERENCES["llama3_8b"].build(published=True).state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in want.items()}
