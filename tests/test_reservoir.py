"""The reservoir's fixed weights are reproducible and its loop exports with a dynamic seq."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from archspec.torchmods.reservoir import Reservoir  # noqa: E402


def test_same_seed_same_weights() -> None:
    a, b, c = Reservoir(3, 40, seed=5), Reservoir(3, 40, seed=5), Reservoir(3, 40, seed=6)
    assert torch.equal(a.weight_in, b.weight_in) and torch.equal(a.weight_res, b.weight_res)
    assert not torch.equal(a.weight_res, c.weight_res)


def test_weights_follow_the_settings_and_leave_global_rng_alone() -> None:
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    m = Reservoir(3, 40, spectral_radius=1.1, sparsity=0.75, input_scaling=0.5)
    assert torch.equal(torch.rand(1), expected)
    radius = torch.linalg.eigvals(m.weight_res.double()).abs().max().item()
    assert radius == pytest.approx(1.1, rel=1e-5)
    assert (m.weight_res == 0).sum().item() == round(0.75 * 40 * 40)
    assert m.weight_in.abs().max().item() <= 0.5
    assert not any(p.requires_grad for p in m.parameters())


def test_onnx_export_keeps_seq_dynamic() -> None:
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    from torch.export import Dim

    x = torch.randn(2, 5, 3)
    for output, dynamic in [("sequence", False), ("sequence", True), ("last", True)]:
        m = Reservoir(3, 8, leak=0.5, output=output).eval()
        shapes = ({0: Dim("batch"), 1: Dim("seq")} if dynamic else {0: Dim("batch")},)
        prog = torch.onnx.export(m, (x,), dynamo=True, dynamic_shapes=shapes, verbose=False)
        sess = ort.InferenceSession(prog.model_proto.SerializeToString())
        xi = torch.randn(3, 9 if dynamic else 5, 3)
        (y,) = sess.run(None, {"x": xi.numpy()})
        torch.testing.assert_close(torch.from_numpy(y), m(xi), rtol=1e-5, atol=1e-5)
