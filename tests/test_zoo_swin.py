"""The zoo (issue 15), continued: specs/swin_t.yaml, torchvision's ``swin_t`` (Swin Transformer V1
tiny) against the plain-PyTorch reference in tests/references/swin.py: the published count and
MACs statically, the full-size state_dict keys, shapes, dtypes and order on the meta device (and
against the digest frozen from torchvision's own model: 185 entries, the int64
``relative_position_index`` buffers included), then a small configuration of the same file (its
``vars:``) loading the reference's randomised state_dict with strict=True and giving its outputs
at two batch sizes (max |difference| <= 1e-5 * max |reference output|), at an image size whose
maps are not multiples of the window (padding and shifted windows) and at one where the shift is
dropped along h only. (tests/test_onnx.py exports the full-size spec and verifies it.)"""

from __future__ import annotations

import hashlib
import re

import pytest
from conftest import ROOT, spec_md_section

import archspec
from archspec.errors import ArchspecError
from archspec.planner.specvars import load_with_vars

torch = pytest.importorskip("torch")

from references import swin  # noqa: E402
from references.torchvision_layouts import TORCHVISION_KEYS, TORCHVISION_LAYOUT  # noqa: E402

SPEC = ROOT / "specs" / "swin_t.yaml"
RTOL = 1e-5
# a small Swin: widths 8, 16, 32, 64; heads 1, 2, 2, 4; 4x4 windows shifted by 2; 10 classes
SMALL = {
    "embed": 8,
    "depth1": 2,
    "depth2": 2,
    "depth3": 2,
    "depth4": 2,
    "heads1": 1,
    "heads2": 2,
    "heads3": 2,
    "heads4": 4,
    "window": 4,
    "classes": 10,
}


def small_reference() -> swin.SwinTransformer:
    return swin.SwinTransformer(4, 8, [2, 2, 2, 2], [1, 2, 2, 4], 4, num_classes=10)


def table(sd: dict[str, torch.Tensor]) -> list[tuple[str, tuple[int, ...], torch.dtype]]:
    return [(k, tuple(v.shape), v.dtype) for k, v in sd.items()]


def randomise(model: torch.nn.Module, seed: int) -> None:
    """Every float tensor random (layer norms and position-bias tables included): the output
    depends on every layer. The int64 position indices are left as they are."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=g) * 0.2)


def rel_diff(got: torch.Tensor, want: torch.Tensor) -> float:
    got, want = got.detach(), want.detach()
    assert got.shape == want.shape and float(want.abs().max()) > 0.1
    return float((got - want).abs().max()) / float(want.abs().max())


def test_count_and_macs_are_torchvisions() -> None:
    a = archspec.analyze(archspec.load(SPEC))
    assert a.total_params == a.trainable_params == swin.SWIN_T_PARAMS == 28_288_354
    assert a.buffers == 12 * 49 * 49  # one relative_position_index per block
    assert a.macs == 4_490_566_656  # torchvision: 4.49 GFLOPS (multiply-adds)


def test_full_size_is_torchvisions_layout() -> None:
    ours = archspec.build(SPEC, device="meta").state_dict()
    with torch.device("meta"):
        ref = swin.swin_t()
    assert table(ours) == table(ref.state_dict())
    lines = [f"{k}:{list(v.shape)}:{str(v.dtype).removeprefix('torch.')}" for k, v in ours.items()]
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    assert (len(lines), digest) == TORCHVISION_LAYOUT["swin_t"]
    for key, shape in TORCHVISION_KEYS["swin_t"].items():
        assert list(ours[key].shape) == shape
    assert ours["features.7.1.attn.relative_position_index"].dtype == torch.int64


def test_init_and_position_index_are_torchvisions() -> None:
    spec = load_with_vars(SPEC, dict(SMALL))
    model = archspec.build(spec, seed=0)
    ref = small_reference()
    for key, t in ref.state_dict().items():
        if not t.is_floating_point():  # the index buffers: equal, and persistent
            assert torch.equal(model.state_dict()[key], t)
    for key in ("features.1.0.attn.qkv.bias", "features.1.0.mlp.0.bias", "head.bias"):
        assert not model.get_parameter(key).any()
    for key in ("features.1.0.attn.qkv.weight", "features.2.reduction.weight", "head.weight"):
        w = model.get_parameter(key).detach()
        assert 0.01 < float(w.std()) < 0.03  # trunc_normal(std=0.02), as torchvision's


# (height, width): 9x11 patches (padded to 12x12; stage 2 5x6 padded to 8x8; stages 3 and 4 no
# larger than a window, unshifted), and 4x13 patches (the shift dropped along h only)
IMAGES = [(36, 44), (16, 52)]


@pytest.mark.parametrize(("height", "width"), IMAGES, ids=[f"{h}x{w}" for h, w in IMAGES])
def test_outputs_equal_the_reference(height: int, width: int) -> None:
    spec = load_with_vars(SPEC, SMALL | {"height": height, "width": width})
    model = archspec.build(spec, seed=0).eval()
    ref = small_reference().eval()
    randomise(ref, 3)
    model.load_state_dict(ref.state_dict(), strict=True)
    g = torch.Generator().manual_seed(4)
    for batch in (1, 3):
        x = torch.randn(batch, 3, height, width, generator=g)
        with torch.no_grad():
            want, got = ref(x), model(x)
        assert got.shape == (batch, 10)
        assert rel_diff(got, want) <= RTOL


def test_one_block_shifted_and_padded_equals_the_reference() -> None:
    """The attention alone on a map that is not a multiple of the window, shifted."""
    text = (
        "inputs: {x: [batch, 9, 11, 12]}\n"
        "layers:\n  - {name: attn, shifted_window_attention: {heads: 3, window: [4, 3], shift: [2, 1]}}\n"
    )
    model = archspec.build(archspec.load_text(text, name="swin.yaml"), seed=0).eval()
    ref = swin.ShiftedWindowAttention(12, [4, 3], [2, 1], 3).eval()
    randomise(ref, 5)
    model.load_state_dict({f"attn.{k}": v for k, v in ref.state_dict().items()}, strict=True)
    x = torch.randn(2, 9, 11, 12, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        assert rel_diff(model(x), ref(x)) <= RTOL


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{shifted_window_attention: {heads: 5, window: 4}}", "not divisible by heads=5"),
        ("{shifted_window_attention: {heads: 2, window: 4, shift: 4}}", "must be smaller than the window"),
        ("{shifted_window_attention: {heads: 2, window: [4, 4, 4]}}", "one int or a list of 2"),
        ("{patch_merging: {out: 0}}", "out"),
    ],
)
def test_bad_settings_are_archspec_errors(entry: str, message: str) -> None:
    text = f"inputs: {{x: [batch, 8, 8, 12]}}\nlayers:\n  - {entry}\n"
    with pytest.raises(ArchspecError, match=message):
        archspec.analyze(archspec.load_text(text, name="swin.yaml"))


def test_channels_first_map_gets_a_hint() -> None:
    text = "inputs: {x: [batch, 12, 8]}\nlayers:\n  - {shifted_window_attention: 2}\n"
    with pytest.raises(ArchspecError, match=r"channels-last map \[batch, h, w, c\]"):
        archspec.analyze(archspec.load_text(text, name="swin.yaml"))


def test_docs_swin_stage_has_its_stated_count() -> None:
    text = spec_md_section("The zoo, continued: MobileNetV3-Large and a graph attention network")
    section = text[text.index("\n### Swin-T\n") :]
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", section, flags=re.S) if "name: swin_stage" in b]
    a = archspec.analyze(archspec.load_text(block, name="spec.md"))
    assert a.total_params == 4_612 and "4,612 parameters" in section
    assert a.out(a.graph.nodes["merge"]).shape[1:] == (5, 6, 32)


def test_shifted_windows_on_dynamic_sizes_are_refused_for_onnx() -> None:
    """Whether the windows shift depends on the map's size, which an export would fix at the
    traced size: a shifted layer on symbolic h and w is refused before exporting (unshifted it
    exports, and the shipped spec's sizes are vars, fixed)."""
    from archspec.backends.onnx import lint

    text = "inputs: {{x: [batch, h, w, 16]}}\nlayers:\n"
    text += "  - {{shifted_window_attention: {{heads: 2, window: 4{}}}}}\n"
    shifted = archspec.analyze(archspec.load_text(text.format(", shift: 2"), name="swin.yaml"))
    with pytest.raises(ArchspecError, match=r"fixed sizes \(--dim NAME=N\)"):
        lint(shifted, 20)
    lint(archspec.analyze(archspec.load_text(text.format(""), name="swin.yaml")), 20)
    lint(archspec.analyze(archspec.load(SPEC)), 20)
