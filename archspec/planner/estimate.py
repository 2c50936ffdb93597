"""A training plan of one model at some sizes: memory per GPU, FLOPs, step time, fits.

Per GPU, with ``dp`` data-parallel ranks, ZeRO stage ``z`` (FSDP: 3), tensor-parallel degree
``t`` (dividing the weights of the layers that split, see ``Memory.split``):

- weights: parameters x bytes (``PlanConfig.weight_bytes``), divided by ``dp`` at ZeRO-3; under
  ZeRO-1/2 the float32 master copy of mixed precision moves to the (sharded) optimizer state;
  buffers (batch-norm statistics) in the activation dtype, never sharded;
- gradients: trainable parameters x ``grad_bytes``, divided by ``dp`` from ZeRO-2;
- optimizer: the states (``config`` module), divided by ``dp`` from ZeRO-1;
- FSDP/ZeRO-3 also all-gathers: the root's parameters for the whole step, two blocks at a time
  (the current one and the prefetched next), and one block's unsharded gradients;
- DDP (``dp`` > 1 without ZeRO) keeps gradient buckets as large as the gradients;
- activations: ``timeline`` (what autograd keeps, checkpointing, the backward's peak);
- gradient accumulation over ``accumulate`` micro-batches keeps all gradients allocated through
  the forward and backward of every micro-batch but the first;
- the optimizer step: weights + gradients + states + the model's outputs (still referenced) +
  Adam's temporary: the square root of exp_avg_sq and its quotient, one full-size copy with the
  foreach kernels (torch's default on CUDA), two copies of the largest tensor one tensor at a
  time (its default on CPU).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archspec.passes import Analysis
from archspec.passes.memory import MemoryGraph, memory_graph
from archspec.planner.config import STATES, PlanConfig
from archspec.planner.timeline import Activations, activations


@dataclass
class Memory:
    """Bytes per GPU."""

    weights: int
    gradients: int
    optimizer: int
    activations: int  # kept for backward at the end of the forward
    peak: int  # of a training step
    buffers: int = 0
    gathered: int = 0  # FSDP/ZeRO-3 all-gathered weights and one block's gradients
    buckets: int = 0  # DDP's gradient buckets
    step_temporary: int = 0  # the optimizer step's own temporaries
    # totals of each phase: the end of the forward, the backward's peak, the optimizer step
    forward_end: int = 0
    backward_peak: int = 0
    optimizer_step: int = 0
    backward_activations: int = 0  # at the backward's peak: held + recomputed + in flight


@dataclass
class Inference:
    """Bytes per GPU to run the model without gradients (16-bit unless the plan is fp32)."""

    weights: int
    activations: int
    kv_cache: int
    context: int
    peak: int
    fits: bool


@dataclass
class TrainingPlan:
    analysis: Analysis
    config: PlanConfig
    memory: Memory
    flops_forward: int  # per GPU per step
    flops_backward: int
    flops_recompute: int
    step_time: float  # seconds at the stated MFU
    fits: bool
    by_block: list[tuple[str, int]]
    inference: Inference | None
    max_batch: int | None = None
    search_dim: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def model(self) -> str:
        return self.analysis.model

    def to_json(self) -> dict[str, Any]:
        from archspec.planner.report import plan_json

        return plan_json(self)


def step_flops(a: Analysis) -> tuple[int, int]:
    """Forward and backward FLOPs of one step: the analysis' own training FLOPs when it has them
    (``a.flops``), else 2 x MACs forward and 4 x MACs backward (the usual convention: the
    backward computes the gradients of both the inputs and the weights)."""
    flops = getattr(a, "flops", None)
    if flops is not None:
        return int(flops.forward), int(flops.backward)
    return 2 * a.macs, 4 * a.macs


def optimizer_bytes(cfg: PlanConfig, tensors: list[int]) -> int:
    """Optimizer state for trainable parameter tensors of ``tensors`` elements each."""
    states = STATES[cfg.optimizer]
    if cfg.optimizer != "adam8bit":
        total = sum(tensors) * states * cfg.state_bytes
    else:  # bitsandbytes: uint8 states and a float32 absmax per 256-block; small tensors float32
        total = sum(n * 8 if n < 4096 else 2 * n + 2 * 4 * -(-n // 256) for n in tensors)
    if cfg.kernels == "cpu" and cfg.optimizer in ("adam", "adamw"):
        total += 4 * len(tensors)  # torch keeps each Adam step count as a float32 tensor there
    return total


def estimate(a: Analysis, cfg: PlanConfig, full: bool = True) -> TrainingPlan:
    """The plan of ``a`` (an analysis at the plan's sizes) under ``cfg``; ``full=False`` leaves
    inference out (the search for the largest batch needs only whether training fits)."""
    g = memory_graph(a, act_bytes=cfg.act_bytes, device=cfg.kernels, tp=cfg.tp, attention=cfg.attention)
    z, dp = cfg.sharded, cfg.dp
    params = a.total_params - g.split_removed
    trainable_tensors = _trainable_tensors(a, g)
    trainable = sum(trainable_tensors)
    mem = _states(cfg, a, g, params, trainable, trainable_tensors)
    shard_grads = dp if z >= 2 else 1
    held_grads = mem.gradients if cfg.accumulate > 1 else 0  # accumulated over micro-batches
    grads_by_layer = [0 if held_grads else lm.trainable * cfg.grad_bytes // shard_grads for lm in g.layers]
    act = activations(g, cfg.checkpoint, grads_by_layer)
    static = mem.weights + mem.buffers + mem.optimizer + mem.gathered + mem.buckets + held_grads
    outputs = sum(v.nbytes for v in g.outputs)
    mem.activations, mem.backward_activations = act.kept, act.peak
    mem.forward_end = static + act.kept + outputs
    mem.backward_peak = static + act.peak + act.grads_at_peak
    mem.optimizer_step = (
        mem.weights + mem.buffers + mem.optimizer + mem.gradients + mem.buckets + mem.step_temporary + outputs
    )
    mem.peak = max(mem.forward_end, mem.backward_peak, mem.optimizer_step)
    fwd, bwd = step_flops(a)
    fwd, bwd = fwd // cfg.tp, bwd // cfg.tp
    recompute = _recompute_flops(a, g, cfg) // cfg.tp
    time = cfg.accumulate * (fwd + bwd) / (cfg.tflops * 1e12 * cfg.mfu)
    fits = mem.peak + cfg.reserve <= cfg.gpu.memory
    infer = _inference(a, cfg, params) if full else None
    plan = TrainingPlan(a, cfg, mem, fwd, bwd, recompute, time, fits, act.by_unit, infer)
    plan.notes = _notes(cfg, g, act)
    return plan


def _trainable_tensors(a: Analysis, g: MemoryGraph) -> list[int]:
    """Elements of each trainable parameter tensor, per tensor-parallel rank (ties once)."""
    out: list[int] = []
    for node in a.graph.layers():
        if node.counts.trainable == 0:
            continue
        tied = node.layer_type.tied if node.tie else None
        for name, shape in node.weights.items():
            if name == tied or name in node.layer_type.frozen:
                continue
            n = 1
            for d in shape:
                n *= d
            out.append(n)
    removed = sum(lm.trainable for lm in g.layers)  # per-rank trainable, after the split
    whole = sum(out)
    if out and removed != whole:  # tensor parallelism: scale each tensor to its rank's share
        out = [max(1, n * removed // whole) for n in out]
    return out


def _states(
    cfg: PlanConfig, a: Analysis, g: MemoryGraph, params: int, trainable: int, tensors: list[int]
) -> Memory:
    z, dp = cfg.sharded, cfg.dp
    compute = 4 if cfg.precision == "fp32" else 2
    buffers = a.buffers * cfg.act_bytes
    opt = optimizer_bytes(cfg, tensors)
    weights, grads = params * cfg.weight_bytes, trainable * cfg.grad_bytes
    mem = Memory(weights, grads, opt, 0, 0, buffers)
    if z >= 1 and cfg.mixed and z < 3:  # the float32 master copy is optimizer state
        mem.weights, mem.optimizer = params * 2, opt + trainable * 4
    if z >= 1:
        mem.optimizer = -(-mem.optimizer // dp)
    if z >= 2:
        mem.gradients = -(-grads // dp)
    if z >= 3:
        mem.weights = -(-params * (4 if cfg.mixed else cfg.weight_bytes) // dp)
        units = [u.params for u in g.units] or [0]
        root = max(0, params - sum(units))
        unit_grad = 4 if cfg.mixed else compute
        mem.gathered = (root + 2 * max(units)) * compute + max(units) * unit_grad
    if dp > 1 and z == 0:
        mem.buckets = grads
    if cfg.optimizer in ("adam", "adamw") and tensors:
        whole = trainable if cfg.kernels == "cuda" else 2 * max(tensors)
        mem.step_temporary = -(-whole * cfg.state_bytes // (dp if z >= 1 else 1))
    return mem


def _recompute_flops(a: Analysis, g: MemoryGraph, cfg: PlanConfig) -> int:
    """Forward FLOPs recomputed in the backward: every block's, with checkpointing per block."""
    if cfg.checkpoint != "blocks":
        return 0
    macs = {n.path: a.macs_of(n) for _, n in a.graph.walk()}
    return 2 * sum(macs.get(u.path, 0) for u in g.units)


def _inference(a: Analysis, cfg: PlanConfig, params: int) -> Inference:
    nbytes = 4 if cfg.precision == "fp32" else 2
    context = cfg.context if cfg.context is not None else a.sizes.get("seq", 0)
    g = memory_graph(
        a, act_bytes=nbytes, device=cfg.kernels, tp=cfg.tp, context=context, attention=cfg.attention
    )
    acts = _live_peak(g)
    kv = sum(lm.cache for lm in g.layers)
    weights = params * nbytes + a.buffers * nbytes
    peak = weights + acts + kv
    return Inference(weights, acts, kv, context, peak, peak + cfg.reserve <= cfg.gpu.memory)


def _live_peak(g: MemoryGraph) -> int:
    """The most bytes alive at once in a forward without gradients: each storage from the layer
    that makes it to the last layer that reads it (the model's inputs and outputs throughout),
    plus the running layer's own intermediates."""
    n = len(g.layers)
    born: dict[str, int] = {v.key: 0 for v in g.inputs}
    size: dict[str, int] = {v.key: v.nbytes for v in g.inputs}
    last: dict[str, int] = {}
    for lm in g.layers:
        for v in lm.ins:
            last[v.key] = lm.index
        for v in lm.outs:
            born.setdefault(v.key, lm.index)
            size[v.key] = v.nbytes
    for v in [*g.inputs, *g.outputs]:
        last[v.key] = n - 1
    delta = [0] * (n + 1)
    for key, b in born.items():
        delta[b] += size[key]
        delta[max(last.get(key, b), b) + 1] -= size[key]
    best = live = sum(size[v.key] for v in g.inputs) if not n else 0
    for i, lm in enumerate(g.layers):
        live += delta[i]
        best = max(best, live + lm.internal)
    return best


def _notes(cfg: PlanConfig, g: MemoryGraph, act: Activations) -> list[str]:
    notes = []
    if cfg.checkpoint == "blocks" and not g.units:
        notes.append("the model has no blocks: checkpointing per block changes nothing")
    if cfg.tp > 1 and not g.split_params:
        notes.append(f"no layer of this model splits over {cfg.tp} tensor-parallel ranks: all replicated")
    if cfg.sharded == 3 and not g.units:
        notes.append("no blocks: FSDP gathers the whole model at once")
    return notes
