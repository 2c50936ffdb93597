"""ONNX export: every spec exports and verifies, dynamic dims stay dynamic, and a failure
leaves the target directory exactly as it was."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
pytest.importorskip("onnxruntime")

import onnx
import onnxruntime as ort
import torch

from archspec import Spec, analyze, build, example_inputs, load, load_text
from archspec.backends.onnx import ExportReport, export_analysis, export_onnx, exporter, limits, runtime
from archspec.backends.onnx import sizes as onnx_sizes
from archspec.errors import ArchspecError
from archspec.layers import registry

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent / "specs"
MLP = ROOT / "specs" / "mlp.yaml"
CONVNET = HERE / "convnet.yaml"
SEQNET = HERE / "seqnet.yaml"
MAX_PARAMS = 200_000_000  # bigger specs (gpt3) would take minutes and gigabytes to export


def _cases() -> list[object]:
    cases = []
    for path in [*sorted((ROOT / "specs").glob("*.yaml")), CONVNET, SEQNET]:
        spec = load(path)
        for model in spec.model_names():
            params = analyze(spec, model).total_params
            marks = []
            if params > MAX_PARAMS:
                marks.append(pytest.mark.skip(reason=f"{params:,} parameters: too large to export in tests"))
            cases.append(pytest.param(path, model, marks=marks, id=f"{path.stem}-{model}"))
    return cases


_EXPORTS: dict[tuple[Path, str], tuple[ExportReport, Path]] = {}


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Export each (spec, model) once per session: ``exported(path, model=None)``."""
    out = tmp_path_factory.mktemp("onnx")

    def get(path: Path, model: str | None = None) -> tuple[ExportReport, Path]:
        model = model or load(path).model_names()[0]
        key = (path, model)
        if key not in _EXPORTS:
            target = out / f"{path.stem}.{model}.onnx"
            _EXPORTS[key] = (export_onnx(path, target, model=model), target)
        return _EXPORTS[key]

    return get


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _run(path: Path, spec: Path | Spec, sizes: dict[str, int]) -> tuple[list[object], list[torch.Tensor]]:
    """onnxruntime and torch on the same inputs."""
    inputs = example_inputs(spec, sizes=sizes, seed=7)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs)})
    module = build(spec, seed=exporter.EXPORT_SEED).eval()  # the exported weights
    with torch.no_grad():
        want = module(*inputs)
    return got, [want] if isinstance(want, torch.Tensor) else list(want)


# Every spec ------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "model"), _cases())
def test_spec_exports_and_verifies(exported, path: Path, model: str) -> None:  # type: ignore[no-untyped-def]
    report, target = exported(path, model)
    assert report.paths == [target] and target.is_file()
    assert report.max_abs_diff <= report.atol + report.rtol * report.max_abs_output + report.rounding
    assert report.rounding <= 0.01 * report.max_abs_output  # rounding, never a wrong file
    assert report.opset >= limits.MIN_OPSET
    assert report.export_seconds > 0 and report.verify_seconds > 0
    assert report.describe().startswith(f"onnx: {target} (opset {report.opset}")
    if report.dynamic_dims:
        assert len(report.sizes_checked) == 2 and report.sizes_checked[0] != report.sizes_checked[1]
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]  # no temp files left


def test_dynamic_batch_resnet_like(exported) -> None:  # type: ignore[no-untyped-def]
    spec = ROOT / "specs" / "resnet50.yaml"
    report, target = exported(spec if spec.exists() else CONVNET)
    assert report.dynamic_dims == ["batch"]
    assert report.sizes_checked == [{"batch": 1}, {"batch": 3}]
    assert report.max_abs_diff <= 1e-4
    assert "verified at batch=1 and batch=3" in report.describe()
    x = onnx.load(str(target), load_external_data=False).graph.input[0]
    assert x.type.tensor_type.shape.dim[0].dim_param == "batch"


def test_dynamic_batch_runs_at_another_size(exported) -> None:  # type: ignore[no-untyped-def]
    _, target = exported(CONVNET)
    got, want = _run(target, CONVNET, {"batch": 5})
    assert got[0].shape == (5, 10)  # type: ignore[attr-defined]
    assert abs(torch.from_numpy(got[0]) - want[0]).max() <= 1e-4  # type: ignore[arg-type]


def test_attention_and_lstm_keep_batch_and_sequence_dynamic(exported) -> None:  # type: ignore[no-untyped-def]
    report, target = exported(SEQNET)
    assert report.sizes_checked == [{"batch": 1, "seq": 5}, {"batch": 3, "seq": 9}]
    ops = {n.op_type for n in onnx.load(str(target)).graph.node}
    assert "LSTM" in ops and "Softmax" in ops
    # Neither the causal masks nor the LSTM may bake the traced length: run at a third one.
    got, want = _run(target, SEQNET, {"batch": 2, "seq": 13})
    assert got[0].shape == (2, 13, 50)  # type: ignore[attr-defined]
    assert abs(torch.from_numpy(got[0]) - want[0]).max() <= 1e-4  # type: ignore[arg-type]


RNNS = "name: rnns\ninputs: {{x: [batch, seq, 6]}}\nlayers:\n  - {{name: a, {}: {{hidden: 5}}}}\n"
RNNS += "  - {{name: b, {}: {{hidden: 4}}}}\n"


def test_stacked_lstm_and_gru_in_a_second_export_stay_dynamic(exported, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Two torch bugs baked the traced length: stacked RNNs (pytorch#191855) and, in a second
    export in one process, a stale cached kernel. archspec works around both."""
    exported(SEQNET)  # an LSTM export has happened in this process
    report = export_onnx(load_text(RNNS.format("gru", "lstm")), tmp_path / "rnns.onnx")
    assert report.sizes_checked == [{"batch": 1, "seq": 5}, {"batch": 3, "seq": 9}]
    got, want = _run(tmp_path / "rnns.onnx", load_text(RNNS.format("gru", "lstm")), {"batch": 2, "seq": 4})
    assert abs(torch.from_numpy(got[0]) - want[0]).max() <= 1e-4  # type: ignore[arg-type]


def test_elman_rnn_with_dynamic_seq_is_linted_before_export(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A known limitation: torch unrolls `rnn` over time; the lint says so before exporting."""

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the exporter ran after a lint failure")

    monkeypatch.setattr(exporter, "run", never)
    with pytest.raises(ArchspecError, match="'seq'") as err:
        export_onnx(load_text(RNNS.format("rnn", "rnn")), tmp_path / "rnns.onnx")
    assert err.value.code == "unsupported" and "--dim seq=" in err.value.message
    assert not list(tmp_path.iterdir())


def test_elman_rnn_with_fixed_seq_exports(tmp_path: Path) -> None:
    report = export_onnx(load_text(RNNS.format("rnn", "rnn")), tmp_path / "rnns.onnx", sizes={"seq": 6})
    assert report.max_abs_diff <= 1e-4


def test_file_carries_archspec_knowledge(exported) -> None:  # type: ignore[no-untyped-def]
    _, target = exported(CONVNET)
    m = onnx.load(str(target))
    a = analyze(load(CONVNET))
    meta = {p.key: p.value for p in m.metadata_props}
    assert meta["archspec.model"] == "tiny_convnet" and meta["archspec.spec_name"] == "tiny_convnet"
    assert meta["archspec.spec"] == CONVNET.name  # no directory: the same bytes wherever it lies
    assert meta["archspec.total_params"] == str(a.total_params)
    assert meta["archspec.trainable_params"] == str(a.trainable_params)
    assert meta["archspec.version"]
    assert f"{a.total_params:,} parameters" in m.doc_string
    assert "tiny_convnet" in m.graph.doc_string
    assert [i.name for i in m.graph.input] == ["image"] and [o.name for o in m.graph.output] == ["fc"]
    out = m.graph.output[0].type.tensor_type.shape.dim
    assert out[0].dim_param == "batch" and out[1].dim_value == 10
    paths = {n.path for _, n in a.graph.walk()}
    owners = {p.value for n in m.graph.node for p in n.metadata_props if p.key == "archspec.path"}
    assert owners <= paths
    assert {"stem_bn", "layer1.0.bn1", "layer1.1.act2", "fc"} <= owners
    names = {n.name for n in m.graph.node}
    assert "fc/Gemm" in names and len(names) == len(m.graph.node)
    # intermediate tensors are named after the node that makes them; nothing of the exporter's
    # making (stack traces with the build machine's paths, FX nodes, scopes) is left
    values = {o for n in m.graph.node for o in n.output}
    assert "layer1.0.bn1/Conv" in values or "layer1.0.conv1/Conv" in values, sorted(values)
    keys = {p.key for n in m.graph.node for p in n.metadata_props}
    assert keys <= {"archspec.path", "archspec.layer"}, keys
    assert b"site-packages" not in target.read_bytes() and str(Path.cwd()).encode() not in target.read_bytes()


def test_same_spec_from_two_folders_gives_the_same_bytes(tmp_path: Path) -> None:
    for folder in ("a", "b/c"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "net.yaml").write_text(CONVNET.read_text())
        export_onnx(load(tmp_path / folder / "net.yaml"), tmp_path / folder / "out" / "net.onnx")
    first, second = (tmp_path / f / "out" / "net.onnx" for f in ("a", "b/c"))
    assert first.read_bytes() == second.read_bytes()
    assert str(tmp_path).encode() not in first.read_bytes()


def test_fixed_sizes_export_a_static_graph(tmp_path: Path) -> None:
    report = export_onnx(MLP, tmp_path / "mlp.onnx", sizes={"batch": 2})
    assert report.dynamic_dims == [] and report.sizes_checked == [{}]
    assert "verified at the declared shapes" in report.describe()
    dim = onnx.load(str(tmp_path / "mlp.onnx")).graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_value == 2


# Nothing half-written ----------------------------------------------------------------------


def _fail_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> float:
        raise ArchspecError("export", "forced verification failure")

    monkeypatch.setattr(runtime, "compare", boom)


@pytest.mark.parametrize("external", [None, "mlp.weights"])
def test_failed_verification_leaves_directory_as_it_was(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, external: str | None
) -> None:
    (tmp_path / "mlp.onnx").write_bytes(b"the old model")
    (tmp_path / "mlp.weights").write_bytes(b"the old weights")
    (tmp_path / "notes.txt").write_text("keep me")
    before = _listing(tmp_path)
    _fail_verification(monkeypatch)
    with pytest.raises(ArchspecError, match="forced verification failure") as err:
        export_onnx(MLP, tmp_path / "mlp.onnx", external_data=external)
    assert err.value.code == "export"
    assert _listing(tmp_path) == before


def test_exporter_failure_is_quiet_and_carries_its_output(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    def chatty(*args: object, **kwargs: object) -> None:
        print("[torch.onnx] Obtain model graph... ❌")
        print("a python-level warning", file=sys.stderr)
        os.write(2, b"C-level noise\n")
        raise RuntimeError("the exporter gave up")

    monkeypatch.setattr(torch.onnx, "export", chatty)
    (tmp_path / "mlp.onnx").write_bytes(b"the old model")
    before = _listing(tmp_path)
    with pytest.raises(ArchspecError, match="the exporter gave up") as err:
        export_onnx(MLP, tmp_path / "mlp.onnx")
    assert err.value.code == "export"
    assert "Obtain model graph" in (err.value.got or "") and "C-level noise" in (err.value.got or "")
    assert _listing(tmp_path) == before
    out, errs = capfd.readouterr()
    assert out == "" and errs == ""


def test_failure_leaves_no_new_folders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fail_verification(monkeypatch)
    with pytest.raises(ArchspecError, match="forced verification failure"):
        export_onnx(MLP, tmp_path / "new" / "deeper" / "mlp.onnx")
    assert not list(tmp_path.iterdir())


def test_lint_reports_every_issue_before_exporting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    linear = registry()["linear"]
    monkeypatch.setattr(
        linear, "onnx_issue", classmethod(lambda cls, p, opset, xs: f"no Gemm at opset {opset}")
    )

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the exporter ran after a lint failure")

    monkeypatch.setattr(exporter, "run", never)
    with pytest.raises(ArchspecError) as err:
        export_onnx(MLP, tmp_path / "mlp.onnx", opset=19)
    assert err.value.code == "unsupported"
    for name in ("fc1", "fc2", "fc3"):
        assert f"{name} (linear): no Gemm at opset 19" in err.value.message
    assert not list(tmp_path.iterdir())


def test_opset_out_of_range(tmp_path: Path) -> None:
    with pytest.raises(ArchspecError, match="opset 12") as err:
        export_onnx(MLP, tmp_path / "mlp.onnx", opset=12)
    assert err.value.code == "unsupported"


# External data -------------------------------------------------------------------------------


def test_large_model_needs_an_external_data_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(limits, "SINGLE_FILE_LIMIT", 1000)
    with pytest.raises(ArchspecError, match="at most 2 GB") as err:
        export_onnx(MLP, tmp_path / "mlp.onnx")
    assert err.value.code == "export" and "--external-data" in (err.value.hint or "")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("bad", ["../w.bin", "sub/w.bin", "mlp.onnx", "", ".."])
def test_external_data_name_must_be_a_plain_file_name(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ArchspecError, match="plain file name"):
        export_onnx(MLP, tmp_path / "mlp.onnx", external_data=bad)
    assert not list(tmp_path.iterdir())


def test_external_data_file_is_named_by_the_caller(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(limits, "SINGLE_FILE_LIMIT", 1000)
    a = analyze(load(MLP))
    report = export_analysis(a, tmp_path / "mlp.onnx", external_data="mlp.weights", progress=True)
    assert report.paths == [tmp_path / "mlp.onnx", tmp_path / "mlp.weights"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlp.onnx", "mlp.weights"]
    m = onnx.load(str(tmp_path / "mlp.onnx"), load_external_data=False)
    locations = {e.value for t in m.graph.initializer for e in t.external_data if e.key == "location"}
    assert locations == {"mlp.weights"}
    assert (tmp_path / "mlp.onnx").stat().st_size < 100_000 < (tmp_path / "mlp.weights").stat().st_size
    assert report.external_data == "mlp.weights" and report.max_abs_diff <= 1e-4
    # progress goes to stderr, one short line a stage; the exporter's own chatter does not
    out, errs = capfd.readouterr()
    lines = errs.splitlines()
    assert out == ""
    assert lines[0].startswith("exporting simple_mlp") and "running onnxruntime at batch=3..." in lines
    assert all(line.endswith("...") for line in lines)


# Sizes traced and checked -----------------------------------------------------------------------


def test_size_plan_grows_symbolic_spatial_dims_until_every_layer_fits() -> None:
    text = (
        "name: convs\ninputs: {x: [batch, 3, h, w]}\nlayers:\n"
        "  - {conv2d: {out: 4, kernel: 7, stride: 2}}\n  - {max_pool2d: 3}\n"
        "  - {conv2d: {out: 4, kernel: 5}}\n  - global_avg_pool\n"
    )
    a = analyze(load_text(text))
    plan = onnx_sizes.SizePlan.make(a)
    assert plan.dims == ["batch", "h", "w"]
    assert plan.checks[0]["batch"] == 1 and plan.checks[1]["batch"] == 3
    assert plan.trace["h"] != plan.trace["w"]  # torch would assume equal sizes are one symbol
    for s in (plan.trace, *plan.checks):
        assert onnx_sizes.fits(a, s)
