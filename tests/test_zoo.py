"""Published models shipped as specs in their reference layouts (issue 15): each spec file's count
equals the reference's, its model built on the meta device has the reference's state_dict keys and
shapes, and the same file with small vars loads the small reference's state_dict (strict=True) and
gives its outputs at two batch sizes."""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import ROOT

import archspec
from archspec.planner.specvars import load_with_vars

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from references.hf import REFERENCES  # noqa: E402

RTOL = 1e-5  # max |difference| <= RTOL * max |reference output|
# the small configurations of tests/references/hf_configs.py as the specs' vars
SMALL: dict[str, dict[str, Any]] = {
    "llama3_8b": dict(vocab=128, hidden=64, layers=2, heads=4, kv_heads=2, intermediate=176),
    "mistral_7b": dict(
        vocab=128, hidden=64, layers=2, heads=4, kv_heads=2, intermediate=176, sliding_window=4
    ),
}
HF_ZOO = sorted(SMALL)


def spec(name: str) -> Any:
    return ROOT / "specs" / f"{name}.yaml"


@pytest.mark.parametrize("name", HF_ZOO)
def test_count_is_the_published_one_and_checks_fast(name: str) -> None:
    start = time.perf_counter()
    a = archspec.analyze(str(spec(name)))
    seconds = time.perf_counter() - start
    ref = REFERENCES[name]
    assert a.total_params == a.trainable_params == ref.published_params
    assert sum(p.numel() for p in ref.build(published=True).parameters()) == ref.published_params
    assert f"{ref.published_params:,}" in spec(name).read_text().split("\nname:")[0]
    assert seconds < 5, seconds  # generous: timings are measured in bench/, this catches a blow-up


@pytest.mark.parametrize("name", HF_ZOO)
def test_meta_build_has_the_reference_state_dict(name: str) -> None:
    ours = archspec.build(archspec.load(spec(name)), device="meta")
    assert all(p.is_meta for p in ours.parameters())
    want = {k: tuple(v.shape) for k, v in REFERENCES[name].build(published=True).state_dict().items()}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == want


@pytest.mark.parametrize("name", HF_ZOO)
def test_small_config_loads_the_reference_and_gives_its_outputs(name: str) -> None:
    ref = REFERENCES[name]
    hf = ref.build()  # the tiny config, seeded and perturbed, eval
    model = archspec.build(load_with_vars(spec(name), SMALL[name])).eval()
    model.load_state_dict(hf.state_dict(), strict=True)
    config = ref.config()
    for batch, seq in ((2, 9), (3, 11)):
        x = ref.inputs(config, batch, seq, seed=batch)
        want = ref.output(hf, x)
        with torch.no_grad():
            got = model(*x.values())
        diff = (got - want).abs().max().item()
        assert diff <= RTOL * want.abs().max().item(), (name, batch, seq, diff)


# torchvision layouts: the specs' state_dicts are torchvision's, key for key ----------------------

from references import resnet  # noqa: E402
from references.torchvision_layouts import TORCHVISION_LAYOUT  # noqa: E402
from test_lang_vision import randomise  # noqa: E402
from test_references import layout_digest  # noqa: E402

TORCHVISION_ZOO = {"resnet18": resnet.resnet18, "resnet50": resnet.resnet50}


@pytest.mark.parametrize("name", [*sorted(TORCHVISION_ZOO), "mobilenet_v2"])
def test_spec_has_torchvisions_state_dict(name: str) -> None:
    model = archspec.build(archspec.load(spec(name)), device="meta")
    assert layout_digest(model) == TORCHVISION_LAYOUT[name]


@pytest.mark.parametrize("name", sorted(TORCHVISION_ZOO))
def test_spec_loads_the_reference_and_gives_its_outputs(name: str) -> None:
    ref = TORCHVISION_ZOO[name]().eval()
    randomise(ref, seed=1)  # batch-norm statistics too: the output depends on every layer
    model = archspec.build(archspec.load(spec(name))).eval()
    model.load_state_dict(ref.state_dict(), strict=True)
    for batch in (1, 2):
        x = torch.randn(batch, 3, 64, 64, generator=torch.Generator().manual_seed(batch))
        with torch.no_grad():
            want, got = ref(x), model(x)
        assert (got - want).abs().max().item() <= RTOL * want.abs().max().item(), (name, batch)
