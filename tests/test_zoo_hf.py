"""The zoo's Hugging Face entries beside tests/test_zoo.py's: CLIP ViT-B/32 (CLIPModel) and T5-small
(T5ForConditionalGeneration). The shipped spec has HF's exact count, state_dict keys and shapes
(built on device="meta"); a small configuration of the same file (its `vars:` overridden) loads the
tiny reference's state_dict with strict=True and gives each of its outputs, named as HF names
them, at two batch sizes (float32, max |difference| <= 1e-5 * max |reference output|)."""

from __future__ import annotations

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

