"""``archspec.shard`` (FSDP2 per block of the spec) in two CPU processes over gloo: the loss and
every gradient equal a single-process step on the whole batch, and each rank holds the share of
the weights that ``archspec plan --fsdp --dp 2`` counts."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

import plan_fsdp_worker  # noqa: E402

import archspec  # noqa: E402
from archspec.planner import plan  # noqa: E402
from archspec.planner.fsdp import unit_paths  # noqa: E402
from archspec.planner.specvars import load_with_vars  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "tests" / "specs" / "gpt2_torch_layers.yaml"
VARS = {"vocab": 300, "d_model": 32, "heads": 4, "depth": 3, "context": 32, "dropout": 0.0}
SIZES = {"batch": 4, "seq": 16}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_fsdp_two_processes_equal_one(tmp_path: Path) -> None:
    out = tmp_path / "rank0.pt"
    torch.multiprocessing.spawn(
        plan_fsdp_worker.run, args=(2, free_port(), str(SPEC), VARS, SIZES, str(out)), nprocs=2, join=True
    )
    got = torch.load(out)
    spec = load_with_vars(SPEC, VARS)
    model = archspec.build(spec, seed=0)
    loss = plan_fsdp_worker.loss_of(model(*archspec.example_inputs(spec, sizes=SIZES, seed=1)))
    loss.backward()
    torch.testing.assert_close(got["loss"], loss.detach(), rtol=1e-5, atol=1e-7)
    want = {n: p.grad for n, p in model.named_parameters()}
    assert set(got["grads"]) == set(want)
    for name, grad in want.items():
        torch.testing.assert_close(got["grads"][name], grad, rtol=1e-4, atol=1e-6, msg=name)
    # the layout is the plan's: one FSDP group per block, and half the weights per rank
    a = archspec.analyze(spec)
    assert sorted(got["units"]) == sorted(["", *unit_paths(a)])
    p = plan(spec, sizes={"batch": 2, "seq": 16}, search=None, dp=2, fsdp=True)
    assert abs(got["local"] * 4 - p.memory.weights) <= 0.01 * p.memory.weights
