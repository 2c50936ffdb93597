"""Measuring what autograd keeps, for the planner's tests: the distinct storages that a real
train-mode forward saves for backward (``torch.autograd.graph.saved_tensors_hooks``), parameters
and buffers left out (they are weights), and what an optimizer step leaves behind."""

from __future__ import annotations

import json
from typing import Any

import torch
from torch import nn


def saved_storages(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> dict[int, int]:
    """data_ptr -> bytes of each distinct storage the forward saves (weights excluded)."""
    weights = {t.untyped_storage().data_ptr() for t in [*module.parameters(), *module.buffers()]}
    found: dict[int, Any] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.nbytes() and storage.data_ptr() not in weights:
            found[storage.data_ptr()] = storage  # held, so no address is reused meanwhile
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = module(*inputs)
    sizes = {ptr: s.nbytes() for ptr, s in found.items()}
    del out
    return sizes


def layer_spec(name: str, params: dict[str, Any], types: list[Any]) -> str:
    """A one-layer spec (JSON text) applying layer ``name`` to inputs of ``types``."""
    inputs = {
        f"x{i}": {"shape": [str(d) if not isinstance(d, int) else d for d in t.shape], "dtype": t.dtype}
        for i, t in enumerate(types)
    }
    entry = {"name": "layer", name: params, "inputs": list(inputs)}
    return json.dumps({"name": "probe", "inputs": inputs, "layers": [entry]})


def state_bytes(model: nn.Module, opt: torch.optim.Optimizer) -> dict[str, int]:
    """Bytes of parameters, of gradients and of optimizer state after a step (each storage once)."""

    def total(tensors: list[torch.Tensor]) -> int:
        seen = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}
        return sum(seen.values())

    params = list(model.parameters())
    grads = [p.grad for p in params if p.grad is not None]
    state = [v for s in opt.state.values() for v in s.values() if isinstance(v, torch.Tensor)]
    return {"weights": total(params), "gradients": total(grads), "optimizer": total(state)}


def checkpoint_units(module: nn.Module, paths: list[str]) -> None:
    """Wrap each unit's forward in ``torch.utils.checkpoint`` (non-reentrant), as the plan's
    ``checkpoint="blocks"`` assumes."""
    import functools

    from torch.utils.checkpoint import checkpoint

    for path in paths:
        sub = module.get_submodule(path)
        sub.forward = functools.partial(checkpoint, sub.forward, use_reentrant=False)  # type: ignore[method-assign]


def step_peak(module: nn.Module, make_inputs: Any, opt: torch.optim.Optimizer) -> int:
    """Peak bytes of a second training step (the first one creates the optimizer state), tracked
    by torch's MemTracker: parameters, gradients, optimizer state, activations and temporaries.
    The loss is ``sum(out * 1.0)``: its gradient is materialized, as a real loss's is."""
    from torch.distributed._tools.mem_tracker import MemTracker

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        out = module(*make_inputs())
        outs = [o for o in (out if isinstance(out, tuple) else (out,)) if o.requires_grad]
        sum((o * 1.0).sum() for o in outs).backward()
        opt.step()

    step()
    tracker = MemTracker()
    tracker.track_external(module, opt)
    with tracker:
        step()
    snapshot = tracker.get_tracker_snapshot("peak")[torch.device("cpu")]
    return int(snapshot["Total"])
