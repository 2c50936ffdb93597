"""``archspec.shard``: FSDP2 per block of the spec, the layout ``archspec plan --fsdp`` describes.

Each checkpoint/FSDP unit of the plan (a block instance, or a copy of a repeated entry at the top
of the model: ``h.0``, ``layer2.1``...) becomes one ``fully_shard`` group, then the root (what is
left: embeddings, heads, tied weights). A model built on ``device="meta"`` is materialized on
``device`` and filled from a full (unsharded) state dict, so no rank ever holds the whole model
on a real device. torch's own FSDP2 does all the distributed work.

    model = archspec.build("specs/gpt2.yaml", device="meta")
    archspec.shard(model, device="cuda", state_dict=full_state_dict)  # after init_process_group
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from archspec.errors import ArchspecError
from archspec.passes import Analysis
from archspec.passes.memory import memory_graph
from archspec.spec.names import ANALYSIS_ATTR


def unit_paths(a: Analysis) -> list[str]:
    """The plan's units of analysis ``a`` (sizes do not matter), in forward order."""
    return [u.path for u in memory_graph(a, device="cpu").units]


def shard(
    module: nn.Module,
    analysis: Analysis | None = None,
    *,
    mesh: Any = None,
    device: str | torch.device | None = None,
    state_dict: Mapping[str, torch.Tensor] | None = None,
    mp_policy: Any = None,
    reshard_after_forward: bool = True,
) -> nn.Module:
    """Apply ``torch.distributed.fsdp.fully_shard`` to each unit of the spec, then the root.

    ``analysis``: the module's (``archspec.build`` attaches it); ``mesh``: a 1-D device mesh (by
    default all ranks of the default process group on ``device``'s type); ``device``: where a
    meta-built module is materialized; ``state_dict``: a full state dict to load into the shards
    (``archspec.build`` on one rank, or a checkpoint); ``mp_policy``: an FSDP2
    ``MixedPrecisionPolicy`` (e.g. bfloat16 compute with float32 reduction). Returns the module,
    sharded in place."""
    import torch.distributed as dist
    from torch.distributed.fsdp import fully_shard

    if not dist.is_initialized():
        raise ArchspecError(
            "bad-value", "archspec.shard needs torch.distributed initialized (init_process_group)"
        )
    a = analysis if analysis is not None else getattr(module, ANALYSIS_ATTR, None)
    if a is None:
        raise ArchspecError("bad-value", "archspec.shard needs the module's analysis: pass analysis=...")
    meta = any(p.is_meta for p in module.parameters())
    target = torch.device(device) if device is not None else None
    if meta and target is None:
        raise ArchspecError(
            "bad-value", "a module built on device='meta' needs device=... to be materialized on"
        )
    if mesh is None:
        from torch.distributed.device_mesh import init_device_mesh

        kind = (target or next(module.parameters()).device).type
        mesh = init_device_mesh(kind, (dist.get_world_size(),))
    options: dict[str, Any] = {"mesh": mesh, "reshard_after_forward": reshard_after_forward}
    if mp_policy is not None:
        options["mp_policy"] = mp_policy
    for path in unit_paths(a):
        unit = module.get_submodule(path)
        if any(True for _ in unit.parameters()):
            fully_shard(unit, **options)
    fully_shard(module, **options)
    if meta:
        assert target is not None
        module.to_empty(device=target)
    if state_dict is not None:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        set_model_state_dict(module, dict(state_dict), options=StateDictOptions(full_state_dict=True))
    return module
