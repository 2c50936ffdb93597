"""Trained weights (issues 15 and 18): ``archspec.build(spec, weights=...)`` from safetensors, torch
checkpoints and mappings; ``archspec compile --weights`` and ``export_onnx(..., module=)`` write
ONNX files that carry those weights, verified against the module they came from; a checkpoint
that does not fit is one error listing every missing, unexpected and wrong-shaped key, raised
from the layout on device="meta" before any weight is allocated."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from conftest import ROOT  # noqa: E402
from references.resnet import resnet18  # noqa: E402
from torch import nn  # noqa: E402

import archspec  # noqa: E402
from archspec.backends.torch import builder  # noqa: E402
from archspec.cli import main  # noqa: E402

SPECS = ROOT / "specs"


def small_resnet18(tmp_path: Path) -> Path:
    """specs/resnet18.yaml at 64x64 images: the same layers and state_dict, less arithmetic."""
    text, n = re.subn(r"\[batch, 3, 224, 224\]", "[batch, 3, 64, 64]", (SPECS / "resnet18.yaml").read_text())
    assert n == 1
    path = tmp_path / "resnet18.yaml"
    path.write_text(text)
    return path


def randomised(model: nn.Module, seed: int) -> nn.Module:
    """Every float parameter and buffer random (running variances positive), batch-norm counters
    non-zero: the output depends on every entry of the state_dict."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, t in model.state_dict().items():
            if not t.is_floating_point():
                t.fill_(7)
            elif key.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * 0.2)
    return model.eval()


def rel_diff(a: Any, b: Any) -> float:
    a, b = torch.as_tensor(a).double(), torch.as_tensor(b).double()
    return float((a - b).abs().max() / b.abs().max())


@pytest.fixture(scope="module")
def reference() -> nn.Module:
    return randomised(resnet18(), 1)


def test_resnet18_checkpoint_formats_load_and_give_the_references_outputs(
    reference: nn.Module, tmp_path: Path
) -> None:
    from safetensors.torch import save_file

    spec = small_resnet18(tmp_path)
    sd = reference.state_dict()
    save_file(dict(sd), tmp_path / "w.safetensors")
    torch.save(sd, tmp_path / "plain.pt")
    torch.save({"state_dict": sd, "epoch": 3, "optimizer": {"lr": 0.1}}, tmp_path / "lightning.ckpt")
    torch.save({"model": sd, "step": 10}, tmp_path / "wrapped.pth")
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = reference(x)
    assert float(want.abs().max()) > 0.1
    initial = archspec.build(spec, seed=0).eval()
    with torch.no_grad():
        assert rel_diff(initial(x), want) > 0.1  # the weights below are not the seed's
    sources: list[Any] = [
        tmp_path / n for n in ("w.safetensors", "plain.pt", "lightning.ckpt", "wrapped.pth")
    ]
    sources += [str(tmp_path / "plain.pt"), sd, reference]
    for source in sources:
        model = archspec.build(spec, weights=source).eval()
        ours = model.state_dict()
        assert all(torch.equal(ours[k], v) for k, v in sd.items()), source  # buffers too
        assert int(ours["layer1.0.bn1.num_batches_tracked"]) == 7
        with torch.no_grad():
            assert rel_diff(model(x), want) <= 1e-6, source


def test_a_checkpoint_that_does_not_fit_lists_every_mismatch_in_one_error(
    reference: nn.Module, tmp_path: Path
) -> None:
    sd = dict(reference.state_dict())
    del sd["fc.bias"]
    sd["fc.extra"] = torch.zeros(3)
    sd["layer2.0.conv1.weight"] = torch.zeros(128, 64, 5, 5)
    sd["bn1.running_mean"] = torch.zeros(64, dtype=torch.int64)
    torch.save(sd, tmp_path / "bad.pt")
    with pytest.raises(archspec.ArchspecError) as e:
        archspec.build(small_resnet18(tmp_path), weights=tmp_path / "bad.pt")
    assert e.value.code == "weights"
    text = e.value.format()
    assert text.startswith(
        f"error[weights]: the weights in '{tmp_path / 'bad.pt'}' do not fit model 'resnet18' "
        "(122 state_dict entries, 122 in the weights): "
        "1 missing, 1 unexpected, 1 wrong shape, 1 wrong dtype\n"
    )
    assert "  missing (1):\n    fc.bias\n" in text
    assert "  unexpected (1):\n    fc.extra\n" in text
    assert (
        "  wrong shape (1):\n"
        "    layer2.0.conv1.weight: [128, 64, 5, 5] in the weights, the model has [128, 64, 3, 3]\n" in text
    )
    assert "  wrong dtype (1):\n    bn1.running_mean: int64 in the weights, the model has float32\n" in text
    assert text.count("error[") == 1 and "hint: " in text


def test_long_lists_are_cut_and_a_wrappers_prefix_is_named(reference: nn.Module) -> None:
    prefixed = {f"module.{k}": v for k, v in reference.state_dict().items()}
    with pytest.raises(archspec.ArchspecError) as e:
        archspec.build(SPECS / "resnet18.yaml", weights=prefixed, device="meta")
    text = e.value.format()
    assert "102 missing, 122 unexpected" in text  # num_batches_tracked may be absent
    assert "    ... and 92 more\n" in text and "    ... and 112 more\n" in text
    assert text.count("\n    ") == 2 * 11
    assert e.value.hint == "the weights' keys start with 'module.' where the others do not: add or strip it"


def test_a_bad_checkpoint_for_an_8b_model_fails_before_any_weight_is_allocated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Llama 3 8B (32 GB in float32) with a tiny bad state_dict: the layout check runs on meta
    only, and before the memory guard (a budget of 1 byte would refuse a real build)."""
    devices: list[str] = []
    real = builder.build

    def recording(*args: Any, **kwargs: Any) -> nn.Module:
        devices.append(str(kwargs.get("device", "cpu")))
        return real(*args, **kwargs)

    monkeypatch.setattr(builder, "build", recording)
    bad = {
        "model.embed_tokens.weight": torch.zeros(10, 4096),
        "lm_head.weight": torch.zeros(128256, 4096, device="meta"),
        "model.extra": torch.zeros(1),
    }
    with pytest.raises(archspec.ArchspecError) as e:
        archspec.build(SPECS / "llama3_8b.yaml", weights=bad, memory_budget=1)
    assert e.value.code == "weights" and devices == ["meta"]
    text = e.value.format()
    assert "(291 state_dict entries, 3 in the weights): 289 missing, 1 unexpected, 1 wrong shape" in text
    assert "model.embed_tokens.weight: [10, 4096] in the weights, the model has [128256, 4096]" in text
    assert "    model.extra\n" in text and "    model.norm.weight\n" not in text  # cut at 10
    assert "    model.layers.0.input_layernorm.weight\n" in text


def gpt2_tiny() -> archspec.Spec:
    text = (SPECS / "gpt2.yaml").read_text()
    for key, value in dict(vocab=101, context=32, d_model=32, heads=4, depth=2).items():
        text, n = re.subn(rf"(?m)^  {key}: .*$", f"  {key}: {value}", text)
        assert n == 1, key
    return archspec.load_text(text, name="gpt2_tiny.yaml")


def test_a_tied_head_loads_from_either_key_or_both(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    spec = gpt2_tiny()
    trained = archspec.build(spec, seed=5).eval()
    (ids,) = archspec.example_inputs(spec, sizes={"batch": 2, "seq": 7})
    with torch.no_grad():
        want = trained(ids)
    sd = {k: v.clone() for k, v in trained.state_dict().items()}
    without_head = {k: v for k, v in sd.items() if k != "lm_head.weight"}  # as HF checkpoints are
    only_head = {k: v for k, v in sd.items() if k != "transformer.wte.weight"}
    save_file(without_head, tmp_path / "gpt2.safetensors")
    for source in (tmp_path / "gpt2.safetensors", only_head, sd):
        model = archspec.build(spec, weights=source, seed=0).eval()
        assert model.get_parameter("lm_head.weight") is model.get_parameter("transformer.wte.weight")
        with torch.no_grad():
            assert rel_diff(model(ids), want) <= 1e-6
    sd["lm_head.weight"] = sd["lm_head.weight"] + 1
    with pytest.raises(archspec.ArchspecError, match="are one tensor in model 'gpt2'"):
        archspec.build(spec, weights=sd)
    neither = {k: v for k, v in without_head.items() if k != "transformer.wte.weight"}
    with pytest.raises(archspec.ArchspecError) as e:
        archspec.build(spec, weights=neither)
    assert "missing (1):\n    transformer.wte.weight (tied to lm_head.weight)\n" in e.value.format()


def test_values_take_the_models_dtype(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    trained = archspec.build(SPECS / "mlp.yaml", seed=2)
    half = {k: v.to(torch.bfloat16) for k, v in trained.state_dict().items()}
    save_file(half, tmp_path / "half.safetensors")
    model = archspec.build(SPECS / "mlp.yaml", weights=tmp_path / "half.safetensors")
    for key, value in model.state_dict().items():
        assert value.dtype == torch.float32 and torch.equal(value, half[key].float())
    wide = archspec.build(SPECS / "mlp.yaml", weights=half, dtype=torch.float64)
    assert wide.get_parameter("fc1.weight").dtype == torch.float64


def test_files_that_are_not_checkpoints(tmp_path: Path) -> None:
    def error(source: Any) -> str:
        with pytest.raises(archspec.ArchspecError) as e:
            archspec.build(SPECS / "mlp.yaml", weights=source)
        assert e.value.code == "weights"
        return e.value.format()

    assert "no weights file at" in error(tmp_path / "none.pt")
    (tmp_path / "junk.bin").write_bytes(b"\x00junk" * 10)
    assert "cannot read" in error(tmp_path / "junk.bin")
    (tmp_path / "fake.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......")
    assert "as a safetensors file" in error(tmp_path / "fake.safetensors")
    torch.save({"fc1.weight": Path("x")}, tmp_path / "pickled.pt")  # not loadable with weights_only
    assert "weights_only=True" in error(tmp_path / "pickled.pt")
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    assert "hold a list, not a state_dict" in error(tmp_path / "list.pt")
    assert "entries that are not tensors: 'epoch' (int)" in error({"fc1.weight": torch.zeros(1), "epoch": 1})
    assert "not int" in error(3)


# ONNX ------------------------------------------------------------------------------------------


def _ort(path: Path, x: Any) -> Any:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]


def test_export_of_a_trained_module_carries_its_weights(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    spec = SPECS / "mlp.yaml"
    trained = archspec.build(spec, seed=0)
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.5)
    trained.train()
    report = archspec.export_onnx(spec, tmp_path / "mlp.onnx", module=trained)
    assert trained.training  # put back as it was
    assert (
        report.weights == "the given module's weights"
        and "with the given module's weights" in report.describe()
    )
    x = torch.randn(3, 128, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        want, initial = trained(x), archspec.build(spec, seed=0)(x)
    got = _ort(tmp_path / "mlp.onnx", x)
    assert rel_diff(got, want) <= 1e-5
    assert rel_diff(got, initial) > 0.1


class SigmoidMLP(nn.Module):
    """specs/mlp.yaml's state_dict layout, another function: sigmoid where the spec has ReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(128, 516), nn.Linear(516, 516), nn.Linear(516, 1)

    def forward(self, x: Any) -> Any:
        return self.fc3(torch.sigmoid(self.fc2(torch.sigmoid(self.fc1(x)))))


def test_export_is_verified_against_the_module_the_weights_came_from(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    target = tmp_path / "out" / "mlp.onnx"
    with pytest.raises(archspec.ArchspecError) as e:
        archspec.export_onnx(SPECS / "mlp.yaml", target, module=SigmoidMLP())
    assert e.value.code == "export" and e.value.message.startswith(
        "at the given weights, onnxruntime and torch"
    )
    assert not target.parent.exists()
    with pytest.raises(archspec.ArchspecError) as e:
        archspec.export_onnx(SPECS / "mlp.yaml", target, module=nn.Linear(128, 1))
    assert e.value.code == "weights" and "6 missing, 2 unexpected" in e.value.message
    assert not target.parent.exists()


def test_compile_with_a_torchvision_checkpoint(
    reference: nn.Module, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("onnx")
    spec = small_resnet18(tmp_path)
    torch.save(reference.state_dict(), tmp_path / "ckpt.pt")
    out = tmp_path / "build"
    code = main(
        ["compile", str(spec), "--emit", "onnx", "--weights", str(tmp_path / "ckpt.pt"), "-o", str(out)]
    )
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert (
        f"onnx: {out / 'resnet18.onnx'} (opset" in stdout
        and f"with the weights in '{tmp_path / 'ckpt.pt'}'" in stdout
    )
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        want = reference(x)
    assert rel_diff(_ort(out / "resnet18.onnx", x), want) <= 1e-5
    # a checkpoint that does not fit: exit 1, one message, the folder as it was
    before = sorted(p.name for p in out.iterdir())
    sd = dict(reference.state_dict())
    del sd["fc.weight"]
    torch.save(sd, tmp_path / "bad.pt")
    code = main(["compile", str(spec), "--weights", str(tmp_path / "bad.pt"), "-o", str(out), "--quiet"])
    stdout, err = capsys.readouterr()
    assert (code, stdout) == (1, "")
    assert err.startswith(
        f"error[weights]: the weights in '{tmp_path / 'bad.pt'}' do not fit model 'resnet18'"
    )
    assert "  missing (1):\n    fc.weight\n" in err and err.count("error[") == 1 and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == before


def test_compile_weights_need_onnx_and_one_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.save({}, tmp_path / "w.pt")
    code = main(
        [
            "compile",
            str(SPECS / "mlp.yaml"),
            "--emit",
            "py",
            "--weights",
            str(tmp_path / "w.pt"),
            "-o",
            str(tmp_path),
        ]
    )
    assert code == 1 and "--emit does not ask for onnx" in capsys.readouterr().err
    code = main(
        [
            "compile",
            str(SPECS / "gan.yaml"),
            "--emit",
            "onnx",
            "--weights",
            str(tmp_path / "w.pt"),
            "-o",
            str(tmp_path),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "--weights fit one of them" in err and "--model" in err
