"""The zoo (issue 15), continued: specs/mobilenet_v3_large.yaml (torchvision's layout) and
specs/gat.yaml (PyTorch Geometric's GATConv layout) against their reference modules in
tests/references (mobilenet.py, graph.py): the published counts statically, the full-size
state_dict keys, shapes, dtypes and order on the meta device (for MobileNetV3 also against the
digest frozen from torchvision's own model), strict loads and equal outputs at two batch sizes
(two node counts for the GAT) with every tensor randomised, batch-norm statistics included
(max |difference| <= 1e-5 * max |reference output|). The per-spec count, MACs and single-batch
train/eval checks of MobileNetV3 are in tests/test_lang_vision.py's tables."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import pytest
from conftest import ROOT, spec_md_section

import archspec
from archspec.planner.specvars import load_with_vars

torch = pytest.importorskip("torch")

from references import graph, mobilenet  # noqa: E402
from references.torchvision_layouts import TORCHVISION_LAYOUT  # noqa: E402

SPECS = ROOT / "specs"
RTOL = 1e-5


def table(sd: dict[str, torch.Tensor]) -> list[tuple[str, tuple[int, ...], torch.dtype]]:
    return [(k, tuple(v.shape), v.dtype) for k, v in sd.items()]


def randomise(model: torch.nn.Module, seed: int) -> None:
    """Every float tensor random (running variances positive): the output depends on every layer."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if key.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * 0.2)


def rel_diff(got: torch.Tensor, want: torch.Tensor) -> float:
    got, want = got.detach(), want.detach()
    assert got.shape == want.shape and float(want.abs().max()) > 0.1
    return float((got - want).abs().max()) / float(want.abs().max())


# ---- MobileNetV3-Large ---------------------------------------------------------------------------


def test_mobilenet_v3_full_size_is_torchvisions_layout() -> None:
    spec = archspec.load(SPECS / "mobilenet_v3_large.yaml")
    a = archspec.analyze(spec)
    assert a.total_params == a.trainable_params == mobilenet.MOBILENET_V3_LARGE_PARAMS == 5_483_032
    ours = archspec.build(spec, device="meta").state_dict()
    with torch.device("meta"):
        ref = mobilenet.mobilenet_v3_large()
    assert table(ours) == table(ref.state_dict())
    lines = [f"{k}:{list(v.shape)}:{str(v.dtype).removeprefix('torch.')}" for k, v in ours.items()]
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    assert (len(lines), digest) == TORCHVISION_LAYOUT["mobilenet_v3_large"]


def test_mobilenet_v3_activations_and_norms() -> None:
    model = archspec.build(SPECS / "mobilenet_v3_large.yaml", device="meta")
    with torch.device("meta"):
        ref = mobilenet.mobilenet_v3_large()

    def kinds(m: torch.nn.Module) -> dict[str, int]:
        names = ("Hardswish", "Hardsigmoid", "ReLU", "BatchNorm2d", "Conv2d", "Linear", "Dropout")
        found = [type(x).__name__ for x in m.modules()]
        return {n: found.count(n) for n in names}

    assert kinds(model) == kinds(ref)
    assert kinds(model)["Hardsigmoid"] == 8 and kinds(model)["Hardswish"] == 21
    norms = {(b.eps, b.momentum) for b in model.modules() if isinstance(b, torch.nn.BatchNorm2d)}
    assert norms == {(0.001, 0.01)}


def test_mobilenet_v3_outputs_equal_at_two_batch_sizes() -> None:
    spec = load_with_vars(SPECS / "mobilenet_v3_large.yaml", {"classes": 10})
    model = archspec.build(spec, seed=0).eval()
    ref = mobilenet.MobileNetV3(num_classes=10).eval()
    randomise(ref, 3)
    model.load_state_dict(ref.state_dict(), strict=True)
    g = torch.Generator().manual_seed(4)
    for batch in (1, 4):
        x = torch.randn(batch, 3, 40, 56, generator=g)
        with torch.no_grad():
            want, got = ref(x), model(x)
        assert got.shape == (batch, 10)
        assert rel_diff(got, want) <= RTOL


# ---- GAT -----------------------------------------------------------------------------------------


def test_gat_count_is_pygs() -> None:
    a = archspec.analyze(archspec.load(SPECS / "gat.yaml"))
    layer1 = 1433 * 64 + 8 * 8 + 8 * 8 + 64  # lin.weight, att_src, att_dst, bias (concat)
    layer2 = 64 * 7 + 7 + 7 + 7  # one head, bias of the averaged output
    assert a.total_params == a.trainable_params == layer1 + layer2 == graph.GAT_CORA_PARAMS == 92_373
    assert a.buffers == 0


def test_gat_full_size_keys_order_and_init() -> None:
    ours = archspec.build(SPECS / "gat.yaml", seed=0)
    assert table(ours.state_dict()) == table(graph.gat().state_dict())
    assert list(ours.state_dict())[:4] == [
        "conv1.att_src",
        "conv1.att_dst",
        "conv1.bias",
        "conv1.lin.weight",
    ]
    assert not ours.get_parameter("conv2.bias").any()
    w = ours.get_parameter("conv1.lin.weight")
    assert float(w.detach().abs().max()) <= (6 / (1433 + 64)) ** 0.5  # Glorot uniform


def edge_mask(nodes: int, g: torch.Generator) -> torch.Tensor:
    """A random undirected graph (row i lists i's neighbours), one node isolated."""
    adj = torch.rand(nodes, nodes, generator=g) > 0.6
    adj = adj | adj.T
    adj[0, :] = adj[:, 0] = False
    return adj


# (spec vars, reference) at the Cora size and at a small config with two averaged output heads
GAT_CASES: dict[str, tuple[dict[str, int], Callable[[], graph.GAT]]] = {
    "cora": ({}, lambda: graph.gat()),
    "small": (
        {"features": 6, "hidden": 3, "heads": 2, "classes": 4, "output_heads": 2},
        lambda: graph.GAT(6, 3, 2, 4, output_heads=2),
    ),
}


@pytest.mark.parametrize("case", sorted(GAT_CASES))
def test_gat_outputs_equal_the_reference(case: str) -> None:
    values, make_ref = GAT_CASES[case]
    spec = load_with_vars(SPECS / "gat.yaml", dict(values))
    model, ref = archspec.build(spec, seed=0), make_ref()
    randomise(ref, 5)
    model.load_state_dict(ref.state_dict(), strict=True)
    features = values.get("features", 1433)
    g = torch.Generator().manual_seed(6)
    for nodes in (7, 13):
        adj = edge_mask(nodes, g)
        x = torch.randn(nodes, features, generator=g)
        # the spec takes the edges with self-loops (A + I); the reference adds them itself
        edges = adj | torch.eye(nodes, dtype=torch.bool)
        with torch.no_grad():
            want, got = ref.eval()(x, adj.float()), model.eval()(x, edges)
        assert got.shape == (nodes, values.get("classes", 7))
        assert rel_diff(got, want) <= RTOL
        # training mode under one seed: the same dropout draws on the input, the attention
        # weights and the hidden layer, in the same order
        torch.manual_seed(8)
        want = ref.train()(x, adj.float())
        torch.manual_seed(8)
        got = model.train()(x, edges)
        assert rel_diff(got, want) <= RTOL


def test_gat_attends_only_along_edges() -> None:
    """Two layers see two hops: a node's logits do not move when a node three hops away changes,
    and they do when a neighbour changes; an isolated node attends only to itself."""
    model = archspec.build(SPECS / "gat.yaml", seed=0).eval()
    nodes = 6
    edges = torch.eye(nodes, dtype=torch.bool)
    for i, j in ((1, 2), (2, 3), (3, 4)):  # a path 1-2-3-4; 0 and 5 isolated
        edges[i, j] = edges[j, i] = True
    x = torch.randn(nodes, 1433, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        base = model(x, edges)
        far, near = x.clone(), x.clone()
        far[4] += 1.0
        near[2] += 1.0
        moved_far, moved_near = model(far, edges), model(near, edges)
    assert torch.equal(moved_far[1], base[1]) and not torch.equal(moved_near[1], base[1])
    assert torch.equal(moved_far[0], base[0])
    # an isolated node's output is its own: attention weight 1 on itself
    alone = torch.eye(1, dtype=torch.bool)
    with torch.no_grad():
        assert torch.allclose(model(x[:1], alone), base[:1], atol=1e-6)


# ---- docs/spec.md, "The zoo, continued: MobileNetV3-Large and a graph attention network" ---------


def doc_blocks() -> list[str]:
    text = spec_md_section("The zoo, continued: MobileNetV3-Large and a graph attention network")
    return [b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if b.startswith("# params: ")]


def test_docs_specs_have_their_stated_counts() -> None:
    assert doc_blocks()
    for block in doc_blocks():
        stated = int(block.split("\n", 1)[0].removeprefix("# params: ").replace(",", ""))
        assert archspec.analyze(archspec.load_text(block, name="zoo2.md")).total_params == stated


def test_docs_gat_layer_is_pygs_gatconv() -> None:
    (block,) = doc_blocks()
    model = archspec.build(archspec.load_text(block, name="zoo2.md"), seed=0).eval()
    ref = graph.GATConv(16, 8, heads=4).eval()
    randomise(ref, 10)
    model.load_state_dict(ref.state_dict(), strict=True)
    g = torch.Generator().manual_seed(11)
    adj = edge_mask(9, g)
    x = torch.randn(9, 16, generator=g)
    with torch.no_grad():
        want, got = ref(x, adj.float()), model(x, adj | torch.eye(9, dtype=torch.bool))
    assert rel_diff(got, want) <= RTOL
