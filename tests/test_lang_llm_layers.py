"""rms_norm, rope, scaled_dot_product_attention and attention, each against an independent
computation (Hugging Face's own functions, or the formula written out), their MACs against
torch's flop counter, and the mistakes users make with them, each one located error."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import pytest

import archspec
from archspec.errors import ArchspecError
from archspec.layers import registry
from archspec.shapes import evaluate

torch = pytest.importorskip("torch")
tf = pytest.importorskip("transformers")

from references.hf_configs import LLAMA31_ROPE, LLAMA_SMALL  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from archspec.backends.torch.ops import make_module  # noqa: E402
from archspec.torchmods.transformer import rope_inv_freq  # noqa: E402

GEN = torch.Generator().manual_seed(0)


def module(name: str, params: dict[str, Any], *inputs: Any) -> Any:
    """The torch module archspec builds for a layer type on inputs of these types."""
    layer = registry()[name]
    p = layer.Params.model_validate(params)
    return make_module(layer.torch(p, list(inputs))).eval()


def randn(*shape: int) -> Any:
    return torch.randn(*shape, generator=GEN)


def close(got: Any, want: Any, rtol: float = 1e-6) -> bool:
    got, want = got.detach(), want.detach()
    return got.shape == want.shape and float((got - want).abs().max()) <= rtol * float(want.abs().max())


# rms_norm ---------------------------------------------------------------------------------------


def test_rms_norm_is_the_formula() -> None:
    m = module("rms_norm", {"eps": 1e-5}, archspec.shapes.tensor("b", 7, 16))
    with torch.no_grad():
        m.weight.copy_(randn(16))
    x = randn(3, 7, 16)
    want = m.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5))
    assert close(m(x), want)
    two = module("rms_norm", {"dims": 2}, archspec.shapes.tensor("b", 3, 4))
    assert two.weight.shape == (3, 4) and two.eps is None  # torch's default: the dtype's epsilon
    y = randn(2, 3, 4)
    eps = torch.finfo(torch.float32).eps
    assert close(two(y), y * torch.rsqrt(y.pow(2).mean((-2, -1), keepdim=True) + eps))


# rope -------------------------------------------------------------------------------------------


def test_rope_is_hf_llama_rotary_at_given_positions() -> None:
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb

    config = tf.LlamaConfig(**LLAMA_SMALL)  # head_dim 16, theta 500000
    q, k = randn(2, 4, 9, 16), randn(2, 2, 9, 16)
    positions = torch.randint(0, 100, (2, 9), generator=GEN)
    cos, sin = LlamaRotaryEmbedding(config)(q, positions)
    want_q, want_k = apply_rotary_pos_emb(q, k, cos, sin)
    t = archspec.shapes.tensor("b", 4, "seq", 16)
    rope = module("rope", {"theta": 500000.0}, t, archspec.shapes.tensor("b", "seq", dtype="int64"))
    assert close(rope(q, positions), want_q) and close(rope(k, positions), want_k)
    # default positions are 0..seq-1, shared by the batch
    cos0, sin0 = LlamaRotaryEmbedding(config)(q, torch.arange(9).expand(2, 9))
    assert close(module("rope", {"theta": 500000.0}, t)(q), apply_rotary_pos_emb(q, k, cos0, sin0)[0])


def test_rope_scaling_frequencies_are_hf_s() -> None:
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    config = tf.LlamaConfig(**dict(LLAMA_SMALL, rope_parameters=LLAMA31_ROPE))
    want, _ = ROPE_INIT_FUNCTIONS["llama3"](config, "cpu")
    got = rope_inv_freq(16, 500000.0, "llama3", 8.0, 1.0, 4.0, 8192)
    assert close(got, want)
    assert not close(rope_inv_freq(16, 500000.0), want)  # the scaling changes them
    linear = tf.LlamaConfig(
        **dict(LLAMA_SMALL, rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 2.0})
    )
    assert close(rope_inv_freq(16, 10000.0, "linear", 2.0), ROPE_INIT_FUNCTIONS["linear"](linear, "cpu")[0])


def test_rope_interleaved_is_complex_rotation_and_partial_keeps_the_rest() -> None:
    x = randn(2, 3, 5, 8)
    rope = module("rope", {"theta": 100.0, "interleaved": True}, archspec.shapes.tensor("b", 3, "s", 8))
    # Meta's formulation: adjacent pairs as complex numbers times e^(i * pos * theta^(-2j/d))
    angles = torch.outer(torch.arange(5, dtype=torch.float32), 100.0 ** (-torch.arange(0, 8, 2) / 8))
    turned = torch.view_as_complex(x.reshape(2, 3, 5, 4, 2).contiguous()) * torch.polar(
        torch.ones(()), angles
    )
    assert close(rope(x), torch.view_as_real(turned).flatten(-2), 1e-5)
    partial = module("rope", {"rotary_dim": 4}, archspec.shapes.tensor("b", 3, "s", 8))
    whole4 = module("rope", {}, archspec.shapes.tensor("b", 3, "s", 4))
    assert torch.equal(partial(x)[..., 4:], x[..., 4:])
    assert close(partial(x)[..., :4], whole4(x[..., :4]))


# scaled_dot_product_attention and attention ---------------------------------------------------


def attend(q: Any, k: Any, v: Any, keep: Any = None, add: Any = None, scale: float | None = None) -> Any:
    """softmax(q kᵀ · scale + mask) v written out; kv head j serves query heads j*g .. j*g+g-1."""
    g = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(g, dim=1), v.repeat_interleave(g, dim=1)
    s = q @ k.transpose(-1, -2) * (scale or 1 / math.sqrt(q.shape[-1]))
    if add is not None:
        s = s + add
    if keep is not None:
        s = s.masked_fill(~keep, float("-inf"))
    return torch.softmax(s, -1) @ v


def test_sdpa_grouped_query_with_masks_and_causal() -> None:
    t = archspec.shapes.tensor
    q, k, v = randn(2, 6, 5, 8), randn(2, 2, 7, 8), randn(2, 2, 7, 3)
    keep = torch.rand(5, 7, generator=GEN) > 0.4
    keep[:, 0] = True
    types = [t("b", 6, 5, 8), t("b", 2, 7, 8), t("b", 2, 7, 3)]
    sdpa = module("scaled_dot_product_attention", {}, *types, t(5, 7, dtype="bool"))
    assert close(sdpa(q, k, v, keep), attend(q, k, v, keep=keep), 1e-5)
    bias = randn(2, 1, 5, 7)
    scaled = module("scaled_dot_product_attention", {"scale": 0.3}, *types, t("b", 1, 5, 7))
    assert close(scaled(q, k, v, bias), attend(q, k, v, add=bias, scale=0.3), 1e-5)
    causal = module("scaled_dot_product_attention", {"causal": True}, t("b", 6, 5, 8), *[t("b", 3, 5, 8)] * 2)
    q, k, v = randn(2, 6, 5, 8), randn(2, 3, 5, 8), randn(2, 3, 5, 8)
    assert close(causal(q, k, v), attend(q, k, v, keep=torch.ones(5, 5, dtype=torch.bool).tril()), 1e-5)


def test_sdpa_dropout_only_in_training() -> None:
    t = archspec.shapes.tensor("b", 2, 6, 4)
    drop = module("scaled_dot_product_attention", {"dropout": 0.5}, t, t, t)
    q, k, v = randn(1, 2, 6, 4), randn(1, 2, 6, 4), randn(1, 2, 6, 4)
    assert torch.equal(drop(q, k, v), drop(q, k, v))  # eval: no dropout
    assert close(drop(q, k, v), attend(q, k, v), 1e-5)
    drop.train()
    assert not torch.equal(drop(q, k, v), drop(q, k, v))


def test_multi_query_cross_attention_is_the_formula() -> None:
    t = archspec.shapes.tensor
    m = module("attention", {"heads": 3, "kv_heads": 1, "scale": 1.0}, t("b", "s", 6), t("b", 5, 10))
    assert m.k_proj.weight.shape == (2, 10) and m.q_proj.weight.shape == (6, 6)
    x, mem = randn(2, 4, 6), randn(2, 5, 10)
    q = m.q_proj(x).view(2, 4, 3, 2).transpose(1, 2)
    k, v = (p(mem).view(2, 5, 1, 2).transpose(1, 2) for p in (m.k_proj, m.v_proj))
    want = m.o_proj(attend(q, k, v, scale=1.0).transpose(1, 2).reshape(2, 4, 6))
    assert close(m(x, mem), want, 1e-5)


PARTS = """
inputs: {x: [batch, seq, 64]}
layers:
  - {name: q_proj, linear: {out: 64, bias: false}}
  - {name: q, reshape: [-1, 4, 16]}
  - {name: q_heads, permute: [0, 2, 1, 3]}
  - {name: q_rot, rope: 500000.0}
  - {name: k_proj, linear: {out: 32, bias: false}, inputs: x}
  - {name: k, reshape: [-1, 2, 16]}
  - {name: k_heads, permute: [0, 2, 1, 3]}
  - {name: k_rot, rope: 500000.0}
  - {name: v_proj, linear: {out: 32, bias: false}, inputs: x}
  - {name: v, reshape: [-1, 2, 16]}
  - {name: v_heads, permute: [0, 2, 1, 3]}
  - {name: attn, scaled_dot_product_attention: {causal: true}, inputs: [q_rot, k_rot, v_heads]}
  - {name: merged, permute: [0, 2, 1, 3]}
  - {name: flat, reshape: [-1, 64]}
  - {name: o_proj, linear: {out: 64, bias: false}}
"""
WHOLE = """
inputs: {x: [batch, seq, 64]}
layers:
  - {name: attn, attention: {heads: 4, kv_heads: 2, bias: false, causal: true, rope: {theta: 500000.0}}}
"""


def test_attention_from_parts_is_the_attention_layer() -> None:
    parts, whole = archspec.build(archspec.load_text(PARTS)), archspec.build(archspec.load_text(WHOLE))
    assert archspec.analyze(archspec.load_text(PARTS)).total_params == 12_288
    parts.load_state_dict({k.removeprefix("attn."): v for k, v in whole.state_dict().items()}, strict=True)
    x = randn(3, 9, 64)
    assert close(parts(x), whole(x), 1e-5)


# MACs: FlopCounterMode / 2, with sdpa as matmuls (the CPU's fused kernel is not counted) --------


@pytest.mark.parametrize("name", ["attention", "scaled_dot_product_attention", "rope", "rms_norm"])
def test_macs_match_flop_counter(name: str) -> None:
    layer = registry()[name]
    for sizes in ({"batch": 2, "seq": 5}, {"batch": 1, "seq": 3}):
        for params, xs in layer.examples:
            p = layer.Params.model_validate(params)
            shapes = [tuple(evaluate(d, sizes) for d in x.shape) for x in xs]
            out = tuple(evaluate(d, sizes) for d in layer.infer(p, xs).shape)
            tensors = [
                randn(*s) if x.dtype.startswith("float") else torch.ones(s, dtype=getattr(torch, x.dtype))
                for s, x in zip(shapes, xs, strict=True)
            ]
            m = make_module(layer.torch(p, xs)).eval()
            with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
                m(*tensors)
            assert layer.macs(p, shapes, out) == counter.get_total_flops() // 2, (params, sizes)


# Mistakes: one located error each -------------------------------------------------------------


def error(text: str) -> ArchspecError:
    with pytest.raises(ArchspecError) as e:
        archspec.load_text(text, name="bad.yaml")
    return e.value


def attention_spec(settings: str, width: int = 64, extra: str = "") -> str:
    return (
        f"inputs: {{x: [batch, seq, {width}]{extra}}}\nlayers:\n  - {{name: attn, attention: {settings}}}\n"
    )


@pytest.mark.parametrize(
    ("settings", "width", "code", "words"),
    [
        ("{heads: 6, kv_heads: 4}", 96, "bad-value", "use 1, 2, 3, 6 key/value heads"),
        ("{heads: 4, kv_heads: 8}", 64, "bad-value", "4 query heads cannot be grouped over 8"),
        ("{heads: 6}", 64, "shape-mismatch", "give `head_dim`"),
        ("{heads: 8, rope: true}", 56, "shape-mismatch", "head_dim 7 is odd"),
        ("{heads: 4, rope: {rotary_dim: 32}}", 64, "shape-mismatch", "exceeds the head size 16"),
        ("{heads: 4, sliding_window: 8}", 64, "bad-value", "add `causal: true`"),
    ],
)
def test_attention_settings_errors(settings: str, width: int, code: str, words: str) -> None:
    e = error(attention_spec(settings, width))
    assert e.code == code and e.node == "attn" and e.loc is not None and e.loc.line == 3
    assert words in str(e), str(e)


def test_rope_in_cross_attention_is_refused() -> None:
    text = attention_spec("{heads: 4, rope: true}", extra=", m: [batch, 5, 64]").replace(
        "attention: {heads: 4, rope: true}}", "attention: {heads: 4, rope: true}, inputs: [x, m]}"
    )
    assert "cross-attention" in str(error(text))


def test_sdpa_errors() -> None:
    head = "inputs: {q: [b, 6, s, 8], k: [b, 4, s, 8], v: [b, 4, s, 8], m: {shape: [s, s], dtype: bool}}\n"
    gqa = head + "layers:\n  - {name: a, scaled_dot_product_attention, inputs: [q, k, v]}\n"
    assert "6 query heads cannot be grouped over 4" in str(error(gqa))
    square = head.replace("m: {shape: [s, s]", "m: {shape: [s, 5]")
    both = (
        square
        + "layers:\n  - {name: a, scaled_dot_product_attention: {causal: true}, inputs: [q, q, q, m]}\n"
    )
    assert "does not broadcast to the attention scores" in str(error(both))  # causal with a mask: checked
    width = head.replace("k: [b, 4, s, 8], v: [b, 4, s, 8]", "k: [b, 6, s, 4], v: [b, 6, s, 4]")
    width += "layers:\n"
    e = error(width + "  - {name: a, scaled_dot_product_attention, inputs: [q, k, v]}\n")
    assert "same last dim" in str(e) and e.loc is not None and e.loc.line == 3


def test_rope_positions_must_match() -> None:
    text = "inputs: {q: [b, 4, s, 8], p: {shape: [b, 7], dtype: int64}}\n"
    text += "layers:\n  - {rope: 10.0, inputs: [q, p]}\n"
    assert "int64[s] or int64[b, s]" in str(error(text))


# Memory rules (what autograd keeps) beyond the registry's examples (tests/test_plan_layers.py) -

SEQ = archspec.shapes.tensor("batch", "seq", 16)
MEMORY_CASES = [
    ("attention", {"heads": 4, "qk_norm": True}, [SEQ]),
    ("attention", {"heads": 4, "kv_heads": 2, "rope": {"rotary_dim": 2}}, [SEQ]),
    ("attention", {"heads": 2, "bias": False}, [SEQ, archspec.shapes.tensor("batch", 6, 12)]),
    ("attention", {"heads": 4, "kv_heads": 2, "dropout": 0.1, "causal": True, "sliding_window": 2}, [SEQ]),
    (
        "scaled_dot_product_attention",
        {},
        [
            *[archspec.shapes.tensor("batch", 4, "seq", 8)] * 3,
            archspec.shapes.tensor("seq", "seq", dtype="bool"),
        ],
    ),
    (
        "scaled_dot_product_attention",
        {"dropout": 0.2},
        [archspec.shapes.tensor("batch", 4, "seq", 8), *[archspec.shapes.tensor("batch", 1, 6, 8)] * 2],
    ),
    (
        "rope",
        {"interleaved": True, "rotary_dim": 4},
        [archspec.shapes.tensor("batch", 2, "seq", 8), archspec.shapes.tensor("batch", "seq", dtype="int64")],
    ),
    ("rms_norm", {"dims": 2, "elementwise_affine": False}, [archspec.shapes.tensor("batch", 3, 16)]),
]


@pytest.mark.parametrize("attention", ["fused", "math"])
@pytest.mark.parametrize("grad", [True, False], ids=["grad", "data"])
@pytest.mark.parametrize(("name", "params", "xs"), MEMORY_CASES, ids=[c[0] for c in MEMORY_CASES])
def test_memory_rules_match_autograd(
    name: str, params: dict[str, Any], xs: list[Any], grad: bool, attention: str
) -> None:
    from plan_measure import layer_spec, saved_storages

    from archspec.passes.memory import memory_graph

    spec = archspec.load_text(layer_spec(name, params, xs), fmt="json")
    symbols = {str(d) for t in xs for d in t.shape if not isinstance(d, int)}
    for all_sizes in ({"batch": 2, "seq": 5}, {"batch": 3, "seq": 7}):
        sizes = {k: v for k, v in all_sizes.items() if k in symbols}
        a = archspec.analyze(spec, sizes=sizes)
        g = memory_graph(a, act_bytes=4, device="cpu", input_grad=grad, attention=attention)  # type: ignore[arg-type]
        planned = sum({k: v for layer in g.layers for k, v in layer.kept.items()}.values())
        module = archspec.build(spec, seed=0).train()
        inputs = tuple(
            x.requires_grad_(grad) if x.is_floating_point() else x
            for x in archspec.example_inputs(spec, sizes=sizes)
        )
        with sdpa_kernel(SDPBackend.MATH) if attention == "math" else contextlib.nullcontext():
            measured = sum(saved_storages(module, inputs).values())
        assert planned == measured, sizes


# Costs by hand (docs/costs.md's rules; docs/spec.md's LLM section lists these layers') --------------

T = archspec.shapes.tensor
HAND = [
    # 80 elements: square, mean's add, scaling, weight
    ("rms_norm", {"eps": 1e-5}, [T("batch", "seq", 8)], 0, 80 * 4),
    # 320 rotated elements x 3, a [5, 8] cos/sin table x 2
    ("rope", {}, [T("batch", 4, "seq", 8)], 0, 320 * 3 + 40 * 2),
    # 2x4 heads of 5x5 scores: q kᵀ and weights·v 200·8 each; scaling, softmax (3) per score
    ("scaled_dot_product_attention", {}, [T("batch", 4, "seq", 8)] * 3, 2 * 200 * 8, 200 * 4),
    ("scaled_dot_product_attention", {"causal": True}, [T("batch", 4, "seq", 8)] * 3, 3200, 200 * 5),
    # d 16, 4 heads of 4, 2 kv heads: q 10·16·16, k and v 10·16·8, 2 x 8 heads·5·4·5, o 10·16·16;
    # rope on 160 + 80 elements with one [5, 4] table; 200 scores, causal
    (
        "attention",
        {"heads": 4, "kv_heads": 2, "bias": False, "causal": True, "rope": {"theta": 500000.0}},
        [T("batch", "seq", 16)],
        2560 + 2 * 1280 + 2 * 800 + 2560,
        240 * 3 + 20 * 2 + 200 * 5,
    ),
    # qk-norm over 160 + 80 elements (4 each), biases on q, k, v (160 + 80 + 80) and o (160)
    (
        "attention",
        {"heads": 4, "kv_heads": 2, "qk_norm": True},
        [T("batch", "seq", 16)],
        9280,
        960 + 480 + 200 * 4,
    ),
]


@pytest.mark.parametrize(("name", "params", "xs", "macs", "other"), HAND, ids=[h[0] for h in HAND])
def test_costs_by_hand(name: str, params: dict[str, Any], xs: list[Any], macs: int, other: int) -> None:
    layer = registry()[name]
    p = layer.Params.model_validate(params)
    sizes = {"batch": 2, "seq": 5}
    shapes = [tuple(evaluate(d, sizes) for d in x.shape) for x in xs]
    out = tuple(evaluate(d, sizes) for d in layer.infer(p, xs).shape)
    assert (layer.macs(p, shapes, out), layer.other_flops(p, shapes, out)) == (macs, other)
