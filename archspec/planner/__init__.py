"""Training plans: will a model fit on a GPU, and how long will a step take? (No torch.)

``plan(spec, batch=8, sizes={"seq": 1024}, dtype="bf16", optimizer="adamw")`` answers per GPU:
weights, gradients, optimizer state, activations (per block) and the peak of a training step,
whether it fits, the forward/backward FLOPs and step time at a stated MFU, the largest batch
that fits, and inference memory. Activations come from the graph: each layer type's rule of
what autograd keeps (``archspec.layers.memory``), counted once per storage
(``archspec.passes.memory``); ``shard`` lays a built model out as the FSDP numbers assume.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archspec.errors import ArchspecError
from archspec.planner.config import (
    CHECKPOINTS,
    DEFAULT_GPU,
    OPTIMIZERS,
    PRECISIONS,
    PlanConfig,
    check,
    choice,
    custom_gpu,
    gpu,
    parse_bytes,
)
from archspec.planner.estimate import TrainingPlan, estimate

if TYPE_CHECKING:
    from archspec.passes import Analysis
    from archspec.spec import Spec

__all__ = ["PlanConfig", "TrainingPlan", "config", "plan", "plan_all", "shard"]

MAX_SEARCH = 1 << 30


def config(
    *,
    dtype: str = "fp32",
    optimizer: str = "adamw",
    checkpoint: str = "none",
    dp: int = 1,
    zero: int = 0,
    fsdp: bool = False,
    tp: int = 1,
    gpu_name: str | None = None,
    memory: str | int | None = None,
    tflops: float | None = None,
    mfu: float = 0.4,
    accumulate: int = 1,
    reserve: str | int | None = None,
    context: int | None = None,
    kernels: str = "cuda",
    attention: str = "fused",
) -> PlanConfig:
    """A checked ``PlanConfig`` from user-facing names (``--dtype bf16``, ``--gpu a100-40gb``)."""
    if (memory is None) != (tflops is None):
        raise ArchspecError(
            "bad-value", "describe a device with both --memory and --tflops (or name one: --gpu)"
        )
    if memory is not None and gpu_name is not None:
        raise ArchspecError("bad-value", "give either --gpu or --memory/--tflops, not both")
    if kernels not in ("cuda", "cpu"):
        raise ArchspecError("bad-value", f"kernels must be 'cuda' or 'cpu', got {kernels!r}")
    if attention not in ("fused", "math"):
        raise ArchspecError("bad-value", f"attention must be 'fused' or 'math', got {attention!r}")
    device = (
        custom_gpu(_bytes(memory), float(tflops or 0)) if memory is not None else gpu(gpu_name or DEFAULT_GPU)
    )
    cfg = PlanConfig(
        precision=choice(dtype, PRECISIONS, "dtype"),  # type: ignore[arg-type]
        optimizer=choice(optimizer, OPTIMIZERS, "optimizer"),  # type: ignore[arg-type]
        checkpoint=choice(checkpoint, CHECKPOINTS, "checkpointing"),  # type: ignore[arg-type]
        dp=dp,
        zero=zero,
        fsdp=fsdp,
        tp=tp,
        gpu=device,
        gpu_default=gpu_name is None and memory is None,
        mfu=mfu,
        accumulate=accumulate,
        kernels=kernels,  # type: ignore[arg-type]
        attention=attention,  # type: ignore[arg-type]
        context=context,
    )
    if reserve is not None:
        cfg = replace(cfg, reserve=_bytes(reserve))
    check(cfg)
    return cfg


def _bytes(value: str | int) -> int:
    return value if isinstance(value, int) else parse_bytes(value)


def plan(
    spec: Spec | str | Path,
    model: str | None = None,
    *,
    sizes: Mapping[str, int] | None = None,
    batch: int | None = None,
    search: str | None = "batch",
    cfg: PlanConfig | None = None,
    **options: Any,
) -> TrainingPlan:
    """The training plan of one model (the first, unless ``model`` names one) at ``sizes`` (and
    ``batch``), under ``cfg`` or the ``config`` options (``dtype="bf16"``, ``optimizer="adamw"``,
    ``checkpoint="blocks"``, ``dp=8``, ``fsdp=True``, ``tp=2``, ``gpu_name="a100-40gb"``...). The
    largest size of the dim ``search`` that fits is searched when the model has that dim."""
    from archspec.pipeline import spec_of

    s = spec_of(spec)
    return plan_all(s, s.pick(model)[0], sizes=sizes, batch=batch, search=search, cfg=cfg, **options)[0]


def plan_all(
    spec: Spec | str | Path,
    model: str | None = None,
    *,
    sizes: Mapping[str, int] | None = None,
    batch: int | None = None,
    search: str | None = "batch",
    cfg: PlanConfig | None = None,
    **options: Any,
) -> list[TrainingPlan]:
    """Plans of every model of the spec (or the one named)."""
    from archspec.pipeline import analyze_all

    cfg = cfg or config(**options)
    all_sizes = dict(sizes or {})
    if batch is not None:
        all_sizes["batch"] = batch
    out = []
    for a in analyze_all(spec, model, all_sizes):
        p = estimate(a, cfg)
        if search is not None and search in a.symbols:
            p.search_dim, p.max_batch = search, largest(a, cfg, search)
        out.append(p)
    return out


def largest(a: Analysis, cfg: PlanConfig, dim: str) -> int:
    """The largest size of ``dim`` at which a training step fits (0 if not even 1 does)."""
    from archspec.passes import analyze

    def fits(n: int) -> bool:
        sized = analyze(a.spec, a.model, {**a.sizes, dim: n})
        return estimate(sized, cfg, full=False).fits

    if not fits(1):
        return 0
    lo, hi = 1, 2
    while hi <= MAX_SEARCH and fits(hi):
        lo, hi = hi, hi * 2
    if hi > MAX_SEARCH:
        return lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def shard(module: Any, analysis: Analysis | None = None, **kwargs: Any) -> Any:
    """Apply FSDP2 ``fully_shard`` per block of the spec (see ``archspec.planner.fsdp``)."""
    from archspec.planner.fsdp import shard as _shard

    return _shard(module, analysis, **kwargs)
