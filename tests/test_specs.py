"""The shipped specs: every model's exact parameter counts (static, no torch), the counts each
spec's header states, the GAN's frozen and shared discriminator, GPT-3 checked statically
and fast, and docs/architectures.md current."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, SPECS

import archspec
from archspec.backends.diagram.render import find_dot
from archspec.docsgen.gallery import SEED_ARCHITECTURES, header_comment, write_architectures

# (spec file stem, model): total, trainable, non-trainable parameters, buffer elements.
# References: each spec's header (torchvision, HF, the PyTorch tutorials, the seed documents).
EXPECTED: dict[tuple[str, str], tuple[int, int, int, int]] = {
    ("bert_base", "bert_base"): (109_482_240, 109_482_240, 0, 0),
    ("clip_vit_b_32", "clip_vit_b_32"): (151_277_313, 151_277_313, 0, 0),
    ("cnn", "cnn"): (3_937_409, 3_937_409, 0, 0),
    ("convnext_tiny", "convnext_tiny"): (28_589_128, 28_589_128, 0, 0),
    ("dcgan", "generator"): (3_576_704, 3_576_704, 0, 1_924),
    ("dcgan", "discriminator"): (2_765_568, 2_765_568, 0, 1_795),
    ("dcgan", "dcgan"): (6_342_272, 3_576_704, 2_765_568, 3_719),
    ("efficientnet_b0", "efficientnet_b0"): (5_288_548, 5_288_548, 0, 42_065),
    ("esn", "esn"): (251_001, 501, 250_500, 0),
    ("fnn", "fnn"): (221, 221, 0, 0),
    ("gat", "gat"): (92_373, 92_373, 0, 0),
    ("gcn", "gcn"): (23_063, 23_063, 0, 0),
    ("gan", "generator"): (227_344, 227_344, 0, 0),
    ("gan", "discriminator"): (804_865, 804_865, 0, 0),
    ("gan", "gan"): (1_032_209, 227_344, 804_865, 0),
    ("gpt2", "gpt2"): (124_439_808, 124_439_808, 0, 0),
    ("gpt3", "gpt3"): (174_604_259_328, 174_604_259_328, 0, 0),
    ("gru_forecaster", "gru_forecaster"): (37_889, 37_889, 0, 0),
    ("keras_cnn", "keras_cnn"): (3_937_409, 3_937_409, 0, 0),
    ("lenet5", "lenet5"): (61_706, 61_706, 0, 0),
    ("llama", "llama"): (108_864, 108_864, 0, 0),
    ("llama3_8b", "llama3_8b"): (8_030_261_248, 8_030_261_248, 0, 0),
    ("lstm_classifier", "lstm_classifier"): (12_051, 12_051, 0, 0),
    ("mlp", "simple_mlp"): (333_853, 333_853, 0, 0),
    ("mistral_7b", "mistral_7b"): (7_241_732_096, 7_241_732_096, 0, 0),
    ("mobilenet_v2", "mobilenet_v2"): (3_504_872, 3_504_872, 0, 34_164),
    ("mobilenet_v3_large", "mobilenet_v3_large"): (5_483_032, 5_483_032, 0, 24_446),
    ("perceptron", "perceptron"): (3, 3, 0, 0),
    ("regularized_mlp", "regularized_mlp"): (3_457, 3_457, 0, 0),
    ("resnet18", "resnet18"): (11_689_512, 11_689_512, 0, 9_620),
    ("resnet50", "resnet50"): (25_557_032, 25_557_032, 0, 53_173),
    ("seq2seq_lstm", "seq2seq_lstm"): (455_656, 455_656, 0, 0),
    ("simple_rnn", "simple_rnn"): (3_051, 3_051, 0, 0),
    ("swin_t", "swin_t"): (28_288_354, 28_288_354, 0, 28_812),
    ("t5_small", "t5_small"): (60_506_624, 60_506_624, 0, 0),
    ("text_classifier", "text_classifier"): (2_659_586, 2_659_586, 0, 0),
    ("transformer_encoder", "transformer_encoder"): (109_482_240, 109_482_240, 0, 0),
    ("unet", "unet"): (482_466, 482_466, 0, 1_422),
    ("vgg16", "vgg16"): (138_357_544, 138_357_544, 0, 0),
    ("vit_b_16", "vit_b_16"): (86_567_656, 86_567_656, 0, 0),
    ("whisper_tiny", "whisper_tiny"): (37_760_640, 37_184_640, 576_000, 0),
}
CASES = [pytest.param(stem, model, id=f"{stem}-{model}") for stem, model in EXPECTED]


def spec_path(stem: str) -> Path:
    return ROOT / "specs" / f"{stem}.yaml"


def test_every_shipped_model_has_expected_counts() -> None:
    shipped = {(p.stem, m) for p in SPECS for m in archspec.load(p).model_names()}
    assert shipped == set(EXPECTED), "add every spec's models to EXPECTED (and drop removed ones)"


@pytest.mark.parametrize(("stem", "model"), CASES)
def test_counts(stem: str, model: str) -> None:
    a = archspec.analyze(str(spec_path(stem)), model)
    got = (a.total_params, a.trainable_params, a.non_trainable_params, a.buffers)
    assert got == EXPECTED[stem, model]


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_header_states_what_it_is_and_its_exact_count(path: Path) -> None:
    header = "\n".join(header_comment(path))
    assert len(header_comment(path)) >= 1
    for model in archspec.load(path).model_names():
        total = EXPECTED[path.stem, model][0]
        assert f"{total:,}" in header, f"{path.name}: the header does not state {model}'s {total:,} params"


def test_gpt3_checks_statically() -> None:
    """175B parameters, counted without building anything (how fast: bench/run.py --only gpt3)."""
    a = archspec.analyze(str(spec_path("gpt3")))
    assert a.total_params == 174_604_259_328  # 12*d^2 + 13*d per block, d = 12,288; "175.0B" rounded
    # per token and block: 12 d^2 (projections, feed-forward) + 2 d (QK^T, AV at seq 1); the tied head
    d, vocab = 12_288, 50_257
    assert a.macs == 96 * (12 * d * d + 2 * d) + d * vocab


def test_check_prints_the_exact_counts(capsys: pytest.CaptureFixture[str]) -> None:
    from archspec.cli import main

    for stem in ("lenet5", "vgg16", "transformer_encoder", "gpt2", "gpt3"):
        assert main(["check", str(spec_path(stem)), "--depth", "1"]) == 0
        out = capsys.readouterr().out
        total = EXPECTED[stem, stem][0]
        assert f"Total params: {total:,}" in out


# The GAN: the combined model freezes the discriminator and shares both models' modules -----


def test_gan_reports_the_discriminator_as_non_trainable() -> None:
    a = archspec.analyze(str(spec_path("gan")), "gan")
    calls = {n.name: n for n in a.graph.body() if n.kind == "model"}
    assert calls["generator"].trainable and not calls["discriminator"].trainable
    assert calls["discriminator"].counts.frozen == 804_865 and calls["discriminator"].counts.trainable == 0
    assert calls["generator"].counts.trainable == 227_344 and calls["generator"].counts.frozen == 0
    d = archspec.analyze(str(spec_path("dcgan")), "dcgan")
    assert (d.trainable_params, d.non_trainable_params) == (3_576_704, 2_765_568)


def test_gan_combined_module_holds_the_generator_and_discriminator_modules() -> None:
    torch = pytest.importorskip("torch")
    spec = archspec.load(spec_path("gan"))
    gan = archspec.build(spec, "gan", seed=0)
    modules = dict(gan.named_modules())
    gen, disc = modules["generator"], modules["discriminator"]
    # the callees are the models' own modules (built once), not copies of their layers
    assert gen.archspec_analysis.model == "generator" and disc.archspec_analysis.model == "discriminator"
    assert modules["generator.hidden"] is gen.hidden and modules["discriminator.score"] is disc.score
    # the combined model's parameters are exactly theirs, the same tensors
    ids = {id(p) for p in gan.parameters()}
    assert ids == {id(p) for p in gen.parameters()} | {id(p) for p in disc.parameters()}
    assert all(p.requires_grad for p in gen.parameters())
    assert not any(p.requires_grad for p in disc.parameters())
    # an optimizer step on the combined model changes the generator only, and the change is
    # seen through the generator module itself
    before = {k: v.clone() for k, v in gan.state_dict().items()}
    opt = torch.optim.SGD([p for p in gan.parameters() if p.requires_grad], lr=0.1)
    (z,) = archspec.example_inputs(spec, "gan", {"batch": 4})
    gan(z).mean().backward()
    opt.step()
    after = gan.state_dict()
    assert not torch.equal(before["generator.image.weight"], after["generator.image.weight"])
    assert torch.equal(gen.image.weight, after["generator.image.weight"])
    assert torch.equal(before["discriminator.hidden.weight"], after["discriminator.hidden.weight"])
    # the same weights in separately built models give the same function: gan(z) = D(G(z))
    g2 = archspec.build(spec, "generator")
    d2 = archspec.build(spec, "discriminator")
    g2.load_state_dict(gen.state_dict())
    d2.load_state_dict(disc.state_dict())
    with torch.no_grad():
        assert torch.equal(gan(z), d2(g2(z)))
    assert all(p.requires_grad for p in d2.parameters())  # frozen only inside the combined model


def test_a_model_called_twice_is_one_module_counted_once() -> None:
    torch = pytest.importorskip("torch")
    text = """
models:
  discriminator:
    inputs: {image: [batch, 8]}
    layers: [{name: fc, linear: 1}, sigmoid]
  judge_both:
    inputs: {real: [batch, 8], fake: [batch, 8]}
    layers:
      - {name: on_real, discriminator, inputs: real}
      - {name: on_fake, discriminator, inputs: fake}
      - {name: both, concat: [on_real, on_fake]}
"""
    spec = archspec.load_text(text)
    a = archspec.analyze(spec, "judge_both")
    assert a.total_params == 9
    m = archspec.build(spec, "judge_both")
    assert m.on_real is m.on_fake
    assert sum(p.numel() for p in m.parameters()) == 9
    real, fake = archspec.example_inputs(spec, "judge_both", {"batch": 3})
    with torch.no_grad():
        out = m(real, fake)
    assert out.shape == (3, 2)


# Other behaviours the specs show ------------------------------------------------------------


def test_esn_trains_only_its_readout() -> None:
    pytest.importorskip("torch")
    m = archspec.build(spec_path("esn"), seed=0)
    trainable = {n for n, p in m.named_parameters() if p.requires_grad}
    assert trainable == {"readout.weight", "readout.bias"}


def test_gpt2_lm_head_is_tied_to_the_token_embedding() -> None:
    pytest.importorskip("torch")
    m = archspec.build(spec_path("gpt2"), device="meta")
    assert m.get_parameter("lm_head.weight") is m.get_parameter("transformer.wte.weight")
    assert "lm_head.weight" in m.state_dict() and "transformer.wte.weight" in m.state_dict()
    assert sum(p.numel() for p in m.parameters()) == 124_439_808


def test_regularized_mlp_penalties_and_inits() -> None:
    torch = pytest.importorskip("torch")
    m = archspec.build(spec_path("regularized_mlp"), seed=0)
    want = (
        1e-4 * m.fc1.weight.pow(2).sum() + 1e-5 * m.fc2.weight.abs().sum() + 1e-4 * m.fc2.weight.pow(2).sum()
    )
    assert torch.allclose(m.regularization_loss(), want)
    assert not m.fc1.bias.any() and not m.fc2.bias.any()  # init: bias zeros


# docs/architectures.md -------------------------------------------------------------------------


def test_architectures_cover_the_seed_list() -> None:
    stems = [s for _, _, ss in SEED_ARCHITECTURES for s in ss]
    assert len(stems) == len(set(stems))
    assert all(spec_path(s).is_file() for s in stems)
    titles = " ".join(t for t, _, _ in SEED_ARCHITECTURES)
    for word in (
        "Perceptron",
        "MLP",
        "FNN",
        "CNN",
        "RNN",
        "LSTM",
        "GRU",
        "Embeddings",
        "ResNet",
        "Transformer",
        "GAN",
        "ESN",
        "Dropout",
    ):
        assert word in titles


def test_architectures_show_every_shipped_spec() -> None:
    shown = {s for _, _, ss in SEED_ARCHITECTURES for s in ss}
    shipped = {p.stem for p in (ROOT / "specs").glob("*.yaml")}
    assert shipped - shown == set(), "add them to archspec/docsgen/sections.py"


@pytest.mark.skipif(find_dot() is None, reason="no dot program: `pip install graphviz-pure`")
def test_committed_architectures_page_is_current(tmp_path: Path, update_golden: bool) -> None:
    page = ROOT / "docs" / "architectures.md"
    if update_golden:
        write_architectures(ROOT / "specs", page, ROOT / "docs" / "architectures")
    fresh = write_architectures(ROOT / "specs", tmp_path / "architectures.md", tmp_path / "architectures")
    assert [p.name for p in fresh[:-1]] == [f"{s}.svg" for _, _, ss in SEED_ARCHITECTURES for s in ss]
    assert page.exists(), "docs/architectures.md is missing: run `python -m archspec.docsgen.gallery`"
    assert fresh[-1].read_text() == page.read_text(), (
        "docs/architectures.md is stale: run `python -m archspec.docsgen.gallery` (or pytest --update-golden)"
    )
    for svg in fresh[:-1]:
        assert (ROOT / "docs" / "architectures" / svg.name).is_file(), f"no docs/architectures/{svg.name}"
    assert str(tmp_path) not in page.read_text() and str(ROOT) not in page.read_text()


def test_the_zoo_table_names_shipped_specs_references_and_tests_that_exist() -> None:
    """docs/architectures.md's zoo table: every row a shown spec, every reference file and test
    file it names present, and the count it shows the analysis's."""
    import re

    from archspec.docsgen.sections import ZOO

    shown = {s for _, _, ss in SEED_ARCHITECTURES for s in ss}
    page = (ROOT / "docs" / "architectures.md").read_text()
    for stem, _, ref, tests in ZOO:
        assert stem in shown
        for path in re.findall(r"tests/references/\w+\.py", ref):
            assert (ROOT / path).is_file(), path
        for t in tests.split(","):
            assert (ROOT / "tests" / t.strip()).is_file(), t
        count = archspec.analyze(archspec.load(ROOT / "specs" / f"{stem}.yaml")).total_params
        assert f"| [`{stem}`](#{stem}) |" in page and f"| {count:,} |" in page
