"""The peak of a whole training step (forward, backward, AdamW step) against measurement on CPU.

torch's ``MemTracker`` follows every tensor of a real step (parameters, gradients, optimizer
state, activations, temporaries); the plan (CPU kernels' rules, float32) must land within 10%,
without checkpointing and with ``torch.utils.checkpoint`` around each of the plan's blocks.
Specs in reduced configurations at sizes where activations matter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch.distributed._tools.mem_tracker")

from plan_measure import checkpoint_units, step_peak  # noqa: E402

import archspec  # noqa: E402
from archspec.passes.memory import memory_graph  # noqa: E402
from archspec.planner import plan  # noqa: E402
from archspec.planner.specvars import load_with_vars  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CASES: list[tuple[str, str | None, dict[str, Any], dict[str, int]]] = [
    (
        "gpt2",
        None,
        {"vocab": 500, "d_model": 64, "heads": 4, "depth": 2, "context": 64},
        {"batch": 16, "seq": 64},
    ),
    (
        "transformer_encoder",
        None,
        {"vocab": 500, "d_model": 64, "heads": 4, "depth": 2},
        {"batch": 16, "seq": 64},
    ),
    ("unet", None, {}, {"batch": 8}),
    ("vgg16", None, {"width": 8, "hidden": 64, "classes": 10}, {"batch": 4}),
    ("dcgan", "discriminator", {}, {"batch": 16}),
    ("gru_forecaster", None, {}, {"batch": 16, "seq": 64}),
    ("lstm_classifier", None, {}, {"batch": 64}),
]


@pytest.mark.parametrize("checkpoint", ["none", "blocks"])
@pytest.mark.parametrize(("stem", "model", "var", "sizes"), CASES, ids=[c[0] for c in CASES])
def test_step_peak_matches_memtracker(
    stem: str, model: str | None, var: dict[str, Any], sizes: dict[str, int], checkpoint: str
) -> None:
    spec = load_with_vars(ROOT / "specs" / f"{stem}.yaml", var)
    p = plan(spec, model, sizes=sizes, search=None, kernels="cpu", optimizer="adamw", checkpoint=checkpoint)
    module = archspec.build(spec, model, seed=0).train()
    if checkpoint == "blocks":
        checkpoint_units(module, [u.path for u in memory_graph(p.analysis, device="cpu").units])
    opt = torch.optim.AdamW(module.parameters())
    measured = step_peak(module, lambda: archspec.example_inputs(spec, model, sizes, seed=1), opt)
    assert abs(p.memory.peak - measured) <= 0.10 * measured, (p.memory.peak, measured)
