"""The zoo (issue 15): published models as specs whose state_dict is the reference's. Each spec
under specs/ has the reference's exact count and state_dict keys and shapes (the big ones
statically and built on device="meta"); a small configuration of the same file (its `vars:`
overridden) loads the reference's state_dict with strict=True and gives its outputs at two batch
sizes (float32, max |difference| <= 1e-5 * max |reference output|). References: transformers
(tests/references/hf.py, built from configs, nothing downloaded) and the torchvision-layout
modules of tests/references."""

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

from references.hf import REFERENCES, count  # noqa: E402

RTOL = 1e-5  # max |difference| <= RTOL * max |reference output|


def spec_text(name: str) -> str:
    return (ROOT / "specs" / f"{name}.yaml").read_text()


def with_vars(text: str, **values: Any) -> str:
    """The spec with some of its top-level `vars:` changed (each must be there once)."""
    for key, value in values.items():
        text, n = re.subn(rf"(?m)^  {key}: .*$", f"  {key}: {json.dumps(value)}", text)
        assert n == 1, key
    return text


def shapes(sd: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in sd.items()}


def rel_diff(got: Any, want: Any) -> float:
    assert got.shape == want.shape
    return float((got - want).abs().max()) / float(want.abs().max())


def assert_static_and_meta(name: str) -> None:
    """The shipped (published-size) spec: count, keys and shapes equal to the HF model on meta."""
    ref = REFERENCES[name]
    start = time.perf_counter()
    a = archspec.analyze(ROOT / "specs" / f"{name}.yaml")
    seconds = time.perf_counter() - start
    hf = ref.build(published=True)
    assert a.total_params == count(hf) == ref.published_params, seconds
    assert f"{ref.published_params:,}" in spec_text(name).split(f"name: {name}")[0]
    ours = archspec.build(archspec.load(ROOT / "specs" / f"{name}.yaml"), device="meta")
    assert all(p.is_meta for p in ours.parameters())
    assert shapes(ours.state_dict()) == shapes(hf.state_dict())


def assert_same_outputs(text: str, name: str, sizes: list[tuple[int, int]]) -> Any:
    """A small configuration: equal count, strict load of the tiny reference, equal outputs."""
    ref = REFERENCES[name]
    hf = ref.build()
    spec = archspec.load_text(text, name=f"{name}_small.yaml")
    assert archspec.analyze(spec).total_params == count(hf)
    model = archspec.build(spec).eval()
    assert shapes(model.state_dict()) == shapes(hf.state_dict())
    model.load_state_dict(hf.state_dict(), strict=True)
    for batch, seq in sizes:
        x = ref.inputs(hf.config, batch, seq)
        want = ref.outputs(hf, x)
        with torch.no_grad():
            got = model(*x.values())
        got = got if isinstance(got, tuple) else (got,)
        assert len(got) == len(want)
        for g, (key, w) in zip(got, want.items(), strict=False):
            assert rel_diff(g, w) <= RTOL, (name, key, batch, seq)
    return model


# Llama 3 8B and Mistral 7B v0.1 ---------------------------------------------------------------

SMALL_DECODER = dict(vocab=128, hidden=64, layers=2, heads=4, kv_heads=2, intermediate=176)


@pytest.mark.parametrize("name", ["llama3_8b", "mistral_7b"])
def test_published_decoder_statically_and_on_meta(name: str) -> None:
    assert_static_and_meta(name)


def test_llama3_70b_from_the_same_file_statically_and_on_meta() -> None:
    """Big models stay cheap: Llama 3 70B's vars give HF's count and layout, built on meta."""
    from references.hf_configs import LLAMA3_8B

    config = dict(LLAMA3_8B, hidden_size=8192, intermediate_size=28672, num_hidden_layers=80)
    config.update(num_attention_heads=64, num_key_value_heads=8)
    cfg = tf.LlamaConfig(**config)
    with torch.device("meta"):
        hf = tf.LlamaForCausalLM(cfg)
    text = with_vars(spec_text("llama3_8b"), hidden=8192, intermediate=28672, layers=80, heads=64)
    spec = archspec.load_text(text, name="llama3_70b.yaml")
    assert archspec.analyze(spec).total_params == count(hf) == 70_553_706_496
    assert shapes(archspec.build(spec, device="meta").state_dict()) == shapes(hf.state_dict())


def test_llama3_8b_small_config_is_hf_llama() -> None:
    assert_same_outputs(with_vars(spec_text("llama3_8b"), **SMALL_DECODER), "llama3_8b", [(2, 9), (3, 5)])


def test_mistral_7b_small_config_is_hf_mistral() -> None:
    text = with_vars(spec_text("mistral_7b"), **SMALL_DECODER, window=4)  # MISTRAL_TINY's window
    model = assert_same_outputs(text, "mistral_7b", [(2, 9), (3, 11)])
    # the window matters at these lengths: without it the logits differ
    unwindowed = archspec.build(archspec.load_text(with_vars(text, window=4096))).eval()
    unwindowed.load_state_dict(model.state_dict(), strict=True)
    x = REFERENCES["mistral_7b"].inputs(REFERENCES["mistral_7b"].config(), 2, 9)["input_ids"]
    with torch.no_grad():
        assert rel_diff(unwindowed(x), model(x)) > 100 * RTOL


# ResNet-50 (torchvision layout) ---------------------------------------------------------------


def randomise(model: Any, seed: int) -> None:
    """Every float parameter and buffer random (running variances positive), so that the output
    depends on every layer: no zero biases, no 0/1 batch-norm statistics or affine parameters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if key.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * 0.2)


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_resnet_has_torchvisions_state_dict_and_outputs(name: str) -> None:
    import hashlib

    from references import resnet
    from references.torchvision_layouts import TORCHVISION_KEYS, TORCHVISION_LAYOUT

    model, ref = (
        archspec.build(ROOT / "specs" / f"{name}.yaml", seed=0).eval(),
        getattr(resnet, name)().eval(),
    )
    sd = model.state_dict()
    lines = [f"{k}:{list(v.shape)}:{str(v.dtype).removeprefix('torch.')}" for k, v in sd.items()]
    # torchvision 0.29.1's own layout (key, shape and dtype of every entry, in order)
    assert (len(lines), hashlib.sha256("\n".join(lines).encode()).hexdigest()) == TORCHVISION_LAYOUT[name]
    assert {k: list(sd[k].shape) for k in TORCHVISION_KEYS[name]} == TORCHVISION_KEYS[name]
    randomise(ref, 1)
    model.load_state_dict(ref.state_dict(), strict=True)
    for batch in (1, 2):
        x = torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(batch))
        with torch.no_grad():
            want, got = ref(x), model(x)
        assert float(want.abs().max()) > 0.1
        assert rel_diff(got, want) <= RTOL, batch


# GPT-2 (HF GPT2LMHeadModel layout) ------------------------------------------------------------


def test_gpt2_statically_and_on_meta() -> None:
    assert_static_and_meta("gpt2")
    model = archspec.build(ROOT / "specs" / "gpt2.yaml", device="meta")
    assert model.get_parameter("lm_head.weight") is model.get_parameter("transformer.wte.weight")
    assert tuple(model.state_dict()["transformer.h.0.attn.c_attn.weight"].shape) == (
        768,
        2304,
    )  # Conv1D [in, out]


def test_gpt2_small_config_is_hf_gpt2() -> None:
    text = with_vars(spec_text("gpt2"), vocab=101, context=32, d_model=32, heads=4, depth=2)  # GPT2_TINY
    model = assert_same_outputs(text, "gpt2", [(2, 9), (3, 5)])
    assert model.get_parameter("lm_head.weight") is model.get_parameter("transformer.wte.weight")


# BERT base (HF BertModel layout, with pooler) -------------------------------------------------

BERT_SMALL = dict(vocab=101, max_positions=32, hidden=32, layers=2, heads=4, intermediate=64)  # BERT_TINY


def test_bert_base_statically_and_on_meta() -> None:
    assert_static_and_meta("bert_base")
    spec = archspec.load(ROOT / "specs" / "bert_base.yaml")
    assert list(spec.models["bert_base"].inputs) == ["input_ids", "token_type_ids"]


def test_bert_base_small_config_is_hf_bert() -> None:
    text = with_vars(spec_text("bert_base"), **BERT_SMALL)
    model = assert_same_outputs(text, "bert_base", [(2, 9), (3, 5)])
    assert "encoder.layer.1.attention.self.query.weight" in model.state_dict()


def test_bert_base_standalone_source_loads_hf_weights(tmp_path: Any) -> None:
    """The generated source (a node named `self` included) is the same model."""
    import importlib.util

    from archspec.backends.torch.pysrc import emit

    spec = archspec.load_text(with_vars(spec_text("bert_base"), **BERT_SMALL), name="bert_small.yaml")
    path = tmp_path / "bert_small.py"
    path.write_text(emit([archspec.analyze(spec)]))
    loader = importlib.util.spec_from_file_location("bert_small", path)
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    ref = REFERENCES["bert_base"]
    hf = ref.build()
    model = module.BertBase().eval()
    model.load_state_dict(hf.state_dict(), strict=True)
    x = ref.inputs(hf.config, 2, 7)
    want = ref.outputs(hf, x)
    with torch.no_grad():
        got = model(*x.values())
    for g, w in zip(got, want.values(), strict=True):
        assert rel_diff(g, w) <= RTOL


# Whisper tiny (HF WhisperForConditionalGeneration layout) -------------------------------------

WHISPER_SMALL = dict(
    vocab=101, mels=8, d_model=32, encoder_layers=2, decoder_layers=2, heads=4, ffn=64, source_positions=12
)  # WHISPER_TEST (target positions 16: kept at 448 would change the count)


def test_whisper_tiny_statically_and_on_meta() -> None:
    assert_static_and_meta("whisper_tiny")


def test_whisper_tiny_small_config_is_hf_whisper() -> None:
    text = with_vars(spec_text("whisper_tiny"), **WHISPER_SMALL, target_positions=16)
    model = assert_same_outputs(text, "whisper_tiny", [(2, 9), (3, 5)])
    assert model.get_parameter("proj_out.weight") is model.get_parameter("model.decoder.embed_tokens.weight")
    hf = REFERENCES["whisper_tiny"].build()
    frozen = {k for k, p in model.named_parameters() if not p.requires_grad}
    assert (
        frozen
        == {k for k, p in hf.named_parameters() if not p.requires_grad}
        == {"model.encoder.embed_positions.weight"}
    )
