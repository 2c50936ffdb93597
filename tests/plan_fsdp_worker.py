"""One rank of the two-process FSDP2 test (tests/test_plan_fsdp.py), run by torch.multiprocessing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

import archspec
from archspec.planner.specvars import load_with_vars


def loss_of(out: torch.Tensor) -> torch.Tensor:
    return out.float().pow(2).mean()


def run(
    rank: int, world: int, port: int, spec_path: str, var: dict[str, Any], sizes: dict[str, int], out: str
) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        spec = load_with_vars(spec_path, var)
        full = archspec.build(spec, seed=0)  # the weights every rank starts from
        model = archspec.build(spec, device="meta")
        archspec.shard(model, device="cpu", state_dict=full.state_dict())
        inputs = archspec.example_inputs(spec, sizes=sizes, seed=1)  # the global batch
        mine = tuple(x.chunk(world)[rank] for x in inputs)  # this rank's half
        loss = loss_of(model(*mine))
        loss.backward()
        dist.all_reduce(loss := loss.detach().clone(), op=dist.ReduceOp.AVG)
        grads = {n: p.grad.full_tensor() for n, p in model.named_parameters()}  # type: ignore[union-attr]
        local = sum(p.to_local().numel() for p in model.parameters())  # type: ignore[attr-defined]
        units = [n for n, m in model.named_modules() if type(m).__name__.startswith("FSDP")]
        if rank == 0:
            torch.save({"loss": loss, "grads": grads, "local": local, "units": units}, Path(out))
    finally:
        dist.destroy_process_group()
