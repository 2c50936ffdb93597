"""The zoo's Hugging Face entries beside tests/test_zoo.py's: CLIP ViT-B/32 (CLIPModel) and T5-small
(T5ForConditionalGeneration). The shipped spec has HF's exact count, state_dict keys and shapes
(built on device="meta"); a small configuration of the same file (its `vars:` overridden) loads the
tiny reference's state_dict with strict=True and gives each of its outputs, named as HF names
them, at two batch sizes (float32, max |difference| <= 1e-5 * max |reference output|)."""

from __future__ import annotations

import re
from typing import Any

import pytest

import archspec

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from references.hf import REFERENCES, TIED, count  # noqa: E402
from test_zoo import RTOL, assert_static_and_meta, rel_diff, shapes, spec_text, with_vars  # noqa: E402


def assert_same_named_outputs(
    text: str, name: str, fields: list[str], sizes: list[tuple[int, int]], attn: str = "sdpa"
) -> Any:
    """The small configuration ``text`` against the tiny reference: equal count, strict load of its
    state_dict, and the spec's outputs equal to the reference output's ``fields``, in order."""
    ref = REFERENCES[name]
    hf = ref.build(attn_implementation=attn)
    spec = archspec.load_text(text, name=f"{name}_small.yaml")
    assert archspec.analyze(spec).total_params == count(hf)
    model = archspec.build(spec).eval()
    assert shapes(model.state_dict()) == shapes(hf.state_dict())
    model.load_state_dict(hf.state_dict(), strict=True)
    for batch, seq in sizes:
        x = ref.inputs(hf.config, batch, seq)
        with torch.no_grad():
            want = hf(**x)
            got = model(*x.values())
        assert len(got) == len(fields)
        for g, field in zip(got, fields, strict=True):
            w = getattr(want, field)
            assert float(w.abs().max()) > 0.01, field  # not a degenerate output
            assert rel_diff(g, w) <= RTOL, (name, field, batch, seq)
    return model


# CLIP ViT-B/32 (HF CLIPModel layout) ------------------------------------------------------------

CLIP_SMALL = dict(  # CLIP_TINY of tests/references/hf_configs.py
    vocab=101,
    text_positions=16,
    text_width=32,
    text_layers=2,
    text_heads=4,
    text_mlp=64,
    image_size=32,
    patch=8,
    vision_width=48,
    vision_layers=2,
    vision_heads=4,
    vision_mlp=96,
    projection=24,
)
CLIP_OUTPUTS = ["logits_per_image", "logits_per_text", "text_embeds", "image_embeds"]


def test_clip_vit_b_32_statically_and_on_meta() -> None:
    assert_static_and_meta("clip_vit_b_32")
    sd = archspec.build(archspec.load(spec_path("clip_vit_b_32")), device="meta").state_dict()
    assert len(sd) == 398
    assert tuple(sd["logit_scale"].shape) == ()
    assert tuple(sd["vision_model.embeddings.class_embedding"].shape) == (768,)
    assert "vision_model.embeddings.patch_embedding.bias" not in sd


def test_clip_vit_b_32_small_config_is_hf_clip() -> None:
    text = with_vars(spec_text("clip_vit_b_32"), **CLIP_SMALL)
    model = assert_same_named_outputs(text, "clip_vit_b_32", CLIP_OUTPUTS, [(2, 9), (3, 5)])
    ref = REFERENCES["clip_vit_b_32"]
    hf = ref.build()
    # the text tower pools at input_ids.argmax(-1): moving the largest id moves the pooled row
    x = ref.inputs(hf.config, 2, 9)
    x["input_ids"] = x["input_ids"] % 100
    x["input_ids"][:, 3] = 100  # the largest id of the tiny vocabulary, only at position 3
    x["input_ids"][1, 6] = 100  # ... and again later in row 1: the first one counts
    with torch.no_grad():
        got, want = model(*x.values())[2], hf(**x).text_embeds
        moved = model(x["input_ids"].roll(1, dims=1), x["pixel_values"])[2]
    assert rel_diff(got, want) <= RTOL
    assert rel_diff(moved, want) > 100 * RTOL


def spec_path(name: str) -> Any:
    from conftest import ROOT

    return ROOT / "specs" / f"{name}.yaml"


# T5-small (HF T5ForConditionalGeneration layout) ------------------------------------------------

T5_SMALL = dict(  # T5_TINY: 8 buckets up to distance 16, so that sequences of 9 reach the far ones
    vocab=101, d_model=32, d_kv=8, heads=4, d_ff=64, layers=2, buckets=8, max_distance=16
)
T5_OUTPUTS = ["logits", "encoder_last_hidden_state"]


def test_t5_small_statically_and_on_meta() -> None:
    assert_static_and_meta("t5_small")
    model = archspec.build(archspec.load(spec_path("t5_small")), device="meta")
    assert len(model.state_dict()) == 134
    for key, source in TIED["t5_small"].items():
        assert model.get_parameter(key) is model.get_parameter(source)
    bias = [k for k in model.state_dict() if "relative_attention_bias" in k]
    assert bias == [
        "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
        "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
    ]


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_t5_small_config_is_hf_t5(attn: str) -> None:
    text = with_vars(spec_text("t5_small"), **T5_SMALL, output_scale=32**-0.5)
    # sequences of 17 and 20 tokens reach the last (shared) bucket of max_distance 16
    model = assert_same_named_outputs(text, "t5_small", T5_OUTPUTS, [(2, 9), (3, 20)], attn)
    for key, source in TIED["t5_small"].items():
        assert model.get_parameter(key) is model.get_parameter(source)
    assert "shared" not in model.code  # held for its weight, never run (as in HF)


def test_relative_position_buckets_are_t5s() -> None:
    """The bias layer's buckets equal HF's T5Attention._relative_position_bucket, offset by offset."""
    from transformers.models.t5.modeling_t5 import T5Attention

    from archspec.torchmods.attention import RelativePositionBias

    offsets = torch.arange(-300, 301)
    for buckets, distance in ((32, 128), (8, 16), (6, 5), (4, 3), (33, 77)):
        for bidirectional in (True, False):
            ours = RelativePositionBias(2, buckets, distance, bidirectional).bucket(offsets)
            want = T5Attention._relative_position_bucket(offsets, bidirectional, buckets, distance)
            assert torch.equal(ours, want), (buckets, distance, bidirectional)


def test_causal_attention_with_a_float_bias() -> None:
    """scaled_dot_product_attention with causal: true and a float mask: both apply."""
    from archspec.torchmods.transformer import ScaledDotProductAttention

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 4, generator=g) for _ in range(3))
    bias = torch.randn(1, 3, 5, 5, generator=g)
    scores = q @ k.transpose(-2, -1) + bias
    scores = scores.masked_fill(torch.ones(5, 5, dtype=torch.bool).triu(1), float("-inf"))
    want = scores.softmax(-1) @ v
    got = ScaledDotProductAttention(causal=True, scale=1.0)(q, k, v, bias)
    assert rel_diff(got, want) <= RTOL
    unmasked = ScaledDotProductAttention(scale=1.0)(q, k, v, bias)
    assert rel_diff(unmasked, want) > 100 * RTOL


def test_zoo3_docs_specs_have_their_stated_counts() -> None:
    """docs/spec.md's CLIP and T5 section: every spec in it loads, with the count it states."""
    from conftest import spec_md_section

    text = spec_md_section("The zoo, continued: CLIP and T5 in Hugging Face's layouts")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if b.startswith("# params: ")]
    assert len(blocks) == 4
    for block in blocks:
        stated = int(block.split("\n", 1)[0].removeprefix("# params: ").replace(",", ""))
        assert archspec.analyze(archspec.load_text(block, name="zoo3.md")).total_params == stated
