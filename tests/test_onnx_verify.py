"""Verification that can fail: `archspec verify` passes archspec's own files and fails on a file
in which one operator or one weight was changed, for the MLP, ResNet-18, VGG-16 and a deep CNN
(MobileNetV2); a deep CNN is exercised so that its output depends on its input; a comparison
that cannot fail says so."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import numpy as np
import onnx
import torch
from conftest import ROOT

from archspec import build, example_inputs, load_text
from archspec.backends.onnx import export_onnx
from archspec.backends.onnx.verify_file import verify_onnx
from archspec.backends.torch.exercise import exercise
from archspec.cli import main
from archspec.errors import ArchspecError

SPECS = ROOT / "specs"
# Small images: the same layers and weights, less arithmetic.
SMALL = {"resnet18": "[batch, 3, 64, 64]", "vgg16": "[batch, 3, 32, 32]"}
SIZES: dict[str, dict[str, int]] = {"mobilenet_v2": {"h": 64, "w": 64}}
CASES = ["mlp", "resnet18", "vgg16", "mobilenet_v2"]
# One operator made another: the file still checks and has every shape right.
FLIPS = {"Relu": "Sigmoid", "Add": "Sub", "Clip": "Identity"}

Exported = Callable[[str], tuple[Path, Path]]


def _spec_text(name: str) -> str:
    text = (SPECS / f"{name}.yaml").read_text()
    if name in SMALL:
        text, n = re.subn(r"\[batch, 3, 224, 224\]", SMALL[name], text)
        assert n == 1
    return text


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    out = tmp_path_factory.mktemp("verify")
    done: dict[str, tuple[Path, Path]] = {}

    def get(name: str) -> tuple[Path, Path]:
        if name not in done:
            spec = out / f"{name}.yaml"
            spec.write_text(_spec_text(name))
            target = out / f"{name}.onnx"
            report = export_onnx(spec, target, sizes=SIZES.get(name))
            assert not report.warnings, report.warnings
            assert report.sensitivity is not None and report.sensitivity > 100
            done[name] = spec, target
        return done[name]

    return get


def _flipped(src: Path, dst: Path, op: str) -> bool:
    """Change the first ``op`` node into ``FLIPS[op]`` (Clip, as ReLU6, loses its bounds)."""
    m = onnx.load(str(src))
    for node in m.graph.node:
        if node.op_type == op:
            node.op_type = FLIPS[op]
            if FLIPS[op] == "Identity":
                del node.input[1:]
            onnx.save(m, str(dst))
            return True
    return False


def _dims(name: str) -> list[str]:
    return [f"--dim={k}={v}" for k, v in SIZES.get(name, {}).items()]


def _verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["verify", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", CASES)
def test_verify_passes_the_file_and_fails_on_one_flipped_operator(
    exported: Exported, name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, target = exported(name)
    code, out, err = _verify(capsys, str(spec), str(target), *_dims(name))
    assert (code, err) == (0, ""), err
    assert out.startswith(f"verified {target} against model") and out.count("\n") == 1
    flipped = 0
    for op in FLIPS:
        bad = tmp_path / f"{op}.onnx"
        if not _flipped(target, bad, op):
            continue
        flipped += 1
        code, out, err = _verify(capsys, str(spec), str(bad), *_dims(name))
        assert code == 1 and out == "", (op, out)
        assert err.startswith("error[verify]: ") and "onnxruntime and torch disagree on output" in err
        assert "relative" in err
        assert err.count("error[") == 1 and "Traceback" not in err
    assert flipped >= (2 if name in ("resnet18", "mobilenet_v2") else 1)  # the others have no Add


@pytest.mark.parametrize("perturb", ["layer4.1.bn2.weight", "layer4.1.conv2.weight", "fc.bias"])
def test_export_fails_on_one_perturbed_initializer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, perturb: str
) -> None:
    """One weight of the exported graph times 1.05 (a batch-norm scale, which the exercised
    comparison replaces, a convolution's kernel, a bias): the export's verification fails and
    nothing is written."""
    import onnx_ir as ir

    from archspec.backends.onnx import exporter

    real = exporter.run

    def run(*args: object, **kwargs: object) -> object:
        program = real(*args, **kwargs)  # type: ignore[arg-type]
        value = program.model.graph.initializers[perturb]
        value.const_value = ir.tensor(value.const_value.numpy() * np.float32(1.05))
        return program

    monkeypatch.setattr(exporter, "run", run)
    (tmp_path / "r.yaml").write_text(_spec_text("resnet18"))
    with pytest.raises(ArchspecError, match=re.escape(perturb)) as err:
        export_onnx(tmp_path / "r.yaml", tmp_path / "r.onnx")
    assert err.value.code == "export" and not (tmp_path / "r.onnx").exists()


EFFNET = """
name: effnet_like
inputs: {x: [batch, 3, 32, 32]}
blocks:
  mb:
    args: {c: int}
    layers:
      - {name: expand, conv2d: {out: $c * 4, kernel: 1, bias: false}}
      - {batch_norm}
      - silu
      - {name: dw, conv2d: {out: $c * 4, kernel: 3, padding: 1, groups: $c * 4, bias: false}}
      - {batch_norm}
      - silu
      - {name: project, conv2d: {out: $c, kernel: 1, bias: false}}
      - {name: bn, batch_norm}
layers:
  - {name: stem, conv2d: {out: 8, kernel: 3, stride: 2, padding: 1, bias: false}}
  - {batch_norm}
  - silu
  - {name: blocks, mb: 8, repeat: 16}
  - global_avg_pool
  - {name: head, linear: 10}
"""


def _moves(module: torch.nn.Module, spec: object) -> float:
    a, b = (example_inputs(spec, sizes={"batch": 2}, seed=s) for s in (0, 1))  # type: ignore[arg-type]
    with torch.no_grad():
        return float((module(*a) - module(*b)).abs().max())


def test_a_deep_cnn_is_exercised_so_that_its_output_depends_on_the_input(tmp_path: Path) -> None:
    """As built, the deep CNN's output hardly moves with its input (EfficientNet-B0's equals its
    bias): a comparison there cannot fail. Exercised, it moves; so a file in which one block
    computes with another's kernel is caught."""
    spec = load_text(EFFNET)
    module = build(spec, seed=0).eval()
    assert _moves(module, spec) < 1e-4  # vacuous as built
    exercise(module, lambda: example_inputs(spec, sizes={"batch": 2}, seed=5))
    assert _moves(module, spec) > 0.1
    (tmp_path / "e.yaml").write_text(EFFNET)
    report = export_onnx(tmp_path / "e.yaml", tmp_path / "e.onnx")
    assert report.sensitivity is not None and report.sensitivity > 100 and not report.warnings
    bad = onnx.load(str(tmp_path / "e.onnx"))
    conv = {n.input[1]: n for n in bad.graph.node if n.op_type == "Conv"}
    conv["blocks.9.dw.weight"].input[1] = "blocks.8.dw.weight"
    onnx.save(bad, str(tmp_path / "bad.onnx"))
    with pytest.raises(ArchspecError, match="disagree") as err:
        verify_onnx(tmp_path / "e.yaml", tmp_path / "bad.onnx")
    assert err.value.code == "verify"


def test_a_comparison_that_cannot_fail_says_so(tmp_path: Path) -> None:
    spec = load_text("name: flat\ninputs: {x: [batch, 4]}\nlayers:\n  - linear: 3\n  - step: 1000.0\n")
    report = export_onnx(spec, tmp_path / "flat.onnx")
    assert report.sensitivity == 0.0
    assert "could not tell a wrong file from a right one" in report.warnings[0]
    assert "\nwarning: output 'step1' moves by only 0 between two inputs" in report.describe()


def test_verify_a_trained_model_exported_by_torch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A user's own torch.onnx export of other weights verifies against the spec."""
    from torch.export import Dim

    spec = SPECS / "mlp.yaml"
    module = build(spec, seed=1).eval()
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(1.5)
    x = example_inputs(spec, sizes={"batch": 2})
    torch.onnx.export(
        module,
        x,
        str(tmp_path / "user.onnx"),
        dynamo=True,
        dynamic_shapes=({0: Dim("batch")},),
        verbose=False,
    )
    capsys.readouterr()
    code, out, err = _verify(capsys, str(spec), str(tmp_path / "user.onnx"))
    assert code == 0, err
    assert f"({len(module.state_dict())} weights from the file)" in out


def test_verify_names_the_weights_the_file_lacks(
    exported: Exported, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, target = exported("resnet18")
    m = onnx.load(str(target))
    renamed = {t.name: f"folded_{i}" for i, t in enumerate(m.graph.initializer) if ".bn" in t.name}
    assert len(renamed) >= 4
    for t in m.graph.initializer:
        t.name = renamed.get(t.name, t.name)
    for node in m.graph.node:
        node.input[:] = [renamed.get(i, i) for i in node.input]
    onnx.save(m, str(tmp_path / "folded.onnx"))
    code, _, err = _verify(capsys, str(spec), str(tmp_path / "folded.onnx"))
    assert code == 1 and err.count("error[") == 1
    assert f"{len(renamed)} of its" in err and "no initializer of that name" in err
    assert "optimize=False" in err


def test_verify_a_static_file_needs_its_sizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export_onnx(SPECS / "mlp.yaml", tmp_path / "mlp2.onnx", sizes={"batch": 2})
    code, _, err = _verify(capsys, str(SPECS / "mlp.yaml"), str(tmp_path / "mlp2.onnx"))
    assert code == 1 and "fixed at 2 where archspec has 'batch'" in err and "--dim" in err
    code, out, err = _verify(capsys, str(SPECS / "mlp.yaml"), str(tmp_path / "mlp2.onnx"), "--batch", "2")
    assert out.startswith("verified")
    assert code == 0, err


def test_verify_rejects_another_model(exported: Exported, capsys: pytest.CaptureFixture[str]) -> None:
    _, target = exported("mlp")
    code, _, err = _verify(capsys, str(SPECS / "lenet5.yaml"), str(target))
    assert code == 1 and err.startswith("error[verify]") and err.count("error[") == 1


def test_verify_missing_or_garbage_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _verify(capsys, str(SPECS / "mlp.yaml"), str(tmp_path / "none.onnx"))
    assert code == 1 and "no ONNX file" in err
    (tmp_path / "junk.onnx").write_bytes(b"\x00junk" * 10)
    code, _, err = _verify(capsys, str(SPECS / "mlp.yaml"), str(tmp_path / "junk.onnx"))
    assert code == 1 and err.startswith("error[verify]") and "Traceback" not in err


def test_rounding_allowance_is_for_rounding_only() -> None:
    """A float32 output that misses the bound is accepted only where onnxruntime is as close to
    torch's float64 output as torch's float32 one is; a file that is off by more still fails."""
    from archspec.backends.onnx.report import Tolerance
    from archspec.backends.onnx.runtime import ROUNDING, _within_rounding

    tol = Tolerance(1e-4, 1e-4)
    exact = torch.linspace(-3000.0, 3000.0, 101, dtype=torch.float64)
    want = (exact + 0.5).float()  # torch in float32: 0.5 from float64, over the bound of 0.3
    near = (exact - 0.5).numpy().astype("float32")  # onnxruntime: as far, the other way
    far = (exact + 0.5 + 3 * (ROUNDING + 1)).numpy().astype("float32")
    allowance = _within_rounding(want, near, exact, tol, 3000.0)
    assert allowance is not None and float((want.double() - exact).abs().max()) < allowance < 10
    assert _within_rounding(want, far, exact, tol, 3000.0) is None
    assert _within_rounding(want, near, None, tol, 3000.0) is None  # no float64 run: no allowance


def test_zero_biases_stay_initializers_under_their_keys(tmp_path: Path) -> None:
    """onnxscript's rewriter drops a Conv's or Gemm's bias input while it is all zeros; the file
    would then have no `fc.bias` to load trained weights into, and verification could not
    exercise it. Every state_dict entry stays an initializer under its key."""
    spec = load_text(
        "inputs: {x: [batch, 3, 8, 8]}\nlayers:\n"
        "  - {name: conv, conv2d: {out: 4, kernel: 3}, init: {bias: zeros}}\n"
        "  - {flatten}\n"
        "  - {name: fc, linear: 5, init: {bias: zeros}}\n"
    )
    report = export_onnx(spec, tmp_path / "z.onnx")
    names = {i.name for i in onnx.load(str(tmp_path / "z.onnx")).graph.initializer}
    assert {"conv.weight", "conv.bias", "fc.weight", "fc.bias"} <= names
    assert not report.warnings


def test_an_infinite_output_sets_no_scale() -> None:
    """Equal infinities match, but they do not make every finite difference pass: the scale of
    the bound is the largest finite |y| (an inf there made the check vacuous)."""
    from archspec.backends.onnx.report import Tolerance
    from archspec.backends.onnx.runtime import _difference

    tol = Tolerance(1e-4, 1e-4)
    want = torch.tensor([float("inf"), 10.0, -3.0])
    diff, ok = _difference(want, np.array([np.inf, 11.0, -3.0], dtype=np.float32), tol)
    assert not ok and diff.max_abs == 1.0 and diff.max_ref == 10.0
    assert _difference(want, want.numpy(), tol)[1]
    assert not _difference(want, np.array([1e30, 10.0, -3.0], dtype=np.float32), tol)[1]
