"""``archspec plan``'s text and ``--json`` (bytes and FLOPs as integers, per GPU)."""

from __future__ import annotations

from typing import Any

from archspec.passes import Analysis
from archspec.planner.config import STATES, PlanConfig, fmt_bytes
from archspec.planner.estimate import TrainingPlan

PRECISION_TEXT = {
    "fp32": "float32",
    "bf16": "bfloat16 mixed precision (float32 master weights)",
    "fp16": "float16 mixed precision (float32 master weights)",
    "pure-bf16": "pure bfloat16 (weights, gradients and optimizer state in bfloat16)",
}
CHECKPOINT_TEXT = {
    "none": "no activation checkpointing",
    "blocks": "activation checkpointing per block (recomputed in backward)",
    "selective": "selective recomputation (attention core recomputed in backward)",
}


def per_param(cfg: PlanConfig) -> dict[str, float]:
    """Bytes per parameter of weights, gradients and optimizer state (before sharding)."""
    states = STATES[cfg.optimizer]
    optimizer = 2.03125 if cfg.optimizer == "adam8bit" else float(states * cfg.state_bytes)
    return {"weights": cfg.weight_bytes, "gradients": cfg.grad_bytes, "optimizer": optimizer}


def plan_json(p: TrainingPlan) -> dict[str, Any]:
    cfg, m, a = p.config, p.memory, p.analysis
    out: dict[str, Any] = {
        "name": a.model,
        "spec": a.spec.path,
        "sizes": dict(a.sizes),
        "sizes_not_given": sorted(set(a.symbols) - set(a.sizes)),
        "device": {
            "name": cfg.gpu.name,
            "default": cfg.gpu_default,
            "memory": cfg.gpu.memory,
            "reserve": cfg.reserve,
            "tflops": cfg.tflops,
        },
        "config": {
            "dtype": cfg.precision,
            "optimizer": cfg.optimizer,
            "checkpoint": cfg.checkpoint,
            "dp": cfg.dp,
            "zero": cfg.sharded,
            "fsdp": cfg.fsdp,
            "tp": cfg.tp,
            "mfu": cfg.mfu,
            "accumulate": cfg.accumulate,
            "kernels": cfg.kernels,
            "attention": cfg.attention,
            "bytes_per_param": per_param(cfg),
        },
        "memory": {
            "weights": m.weights,
            "gradients": m.gradients,
            "optimizer": m.optimizer,
            "activations": m.activations,
            "peak": m.peak,
            "buffers": m.buffers,
            "gathered": m.gathered,
            "buckets": m.buckets,
            "step_temporary": m.step_temporary,
            "backward_activations": m.backward_activations,
        },
        "phases": {
            "forward_end": m.forward_end,
            "backward": m.backward_peak,
            "optimizer_step": m.optimizer_step,
        },
        "activations_by_block": [{"name": n, "bytes": b} for n, b in p.by_block],
        "flops": {"forward": p.flops_forward, "backward": p.flops_backward, "recompute": p.flops_recompute},
        "step_time_s": p.step_time,
        "fits": p.fits,
        "max_batch": p.max_batch,
        "search_dim": p.search_dim,
        "notes": list(p.notes),
    }
    if p.inference is not None:
        i = p.inference
        out["inference"] = {
            "weights": i.weights,
            "activations": i.activations,
            "kv_cache": i.kv_cache,
            "context": i.context,
            "peak": i.peak,
            "fits": i.fits,
        }
    return out


def plans_json(plans: list[TrainingPlan], single: bool) -> dict[str, Any]:
    """One object for one model, else ``{"models": [...]}`` (as ``check --json``)."""
    if single and len(plans) == 1:
        return plan_json(plans[0])
    return {"models": [plan_json(p) for p in plans]}


def _unsized(a: Analysis) -> list[str]:
    """A line naming the symbolic dims no size was given for (each taken as 1), if any."""
    missing = sorted(set(a.symbols) - set(a.sizes))
    if not missing:
        return []
    return [
        f"Sizes not given, each taken as 1: {', '.join(missing)} (set them with --batch and --dim NAME=SIZE)"
    ]


def plan_text(p: TrainingPlan) -> str:
    cfg, m, a = p.config, p.memory, p.analysis
    b = per_param(cfg)
    at = ", ".join(f"{k}={v}" for k, v in a.sizes.items())
    default = " (the default; choose with --gpu, or --memory and --tflops)" if cfg.gpu_default else ""
    lines = [
        f"Plan: {a.model} ({a.spec.shown_path})" + (f" at {at}" if at else ""),
        *_unsized(a),
        f"Device: {cfg.gpu.name}{default}: {fmt_bytes(cfg.gpu.memory)}, "
        f"{cfg.tflops:g} TFLOPS dense {'float32' if cfg.precision == 'fp32' else '16-bit'}; "
        f"{fmt_bytes(cfg.reserve)} reserved for the CUDA context and workspaces",
        f"Precision: {PRECISION_TEXT[cfg.precision]}: {b['weights']:g} B/param weights, "
        f"{b['gradients']:g} B/param gradients" + (" (before sharding)" if cfg.sharded or cfg.tp > 1 else ""),
        f"Optimizer: {cfg.optimizer} ({b['optimizer']:g} B/param of state); "
        + CHECKPOINT_TEXT[cfg.checkpoint],
        f"Parallelism: {_parallel(cfg)}",
        "",
        "Memory per GPU",
        _row("weights", m.weights, f"{a.total_params:,} params" + _split(p)),
        _row("gradients", m.gradients, f"{a.trainable_params:,} trainable"),
        _row("optimizer state", m.optimizer, ""),
    ]
    if m.buffers:
        lines.append(_row("buffers", m.buffers, "batch-norm statistics and the like"))
    if m.gathered:
        lines.append(_row("gathered (FSDP)", m.gathered, "root + 2 blocks of weights, 1 block of gradients"))
    if m.buckets:
        lines.append(_row("DDP buckets", m.buckets, "gradient_as_bucket_view=False (torch's default)"))
    lines.append(_row("activations", m.activations, "kept for backward at the end of the forward"))
    lines += [f"    {name:<26}{text}" for name, text in _blocks(p.by_block)]
    lines.append(
        _row("  in backward", m.backward_activations, "at its peak: held + recomputed + gradients in flight")
    )
    lines.append(_row("end of forward", m.forward_end, "total"))
    lines.append(
        _row("backward", m.backward_peak, "total at its peak, with the parameter gradients made by then")
    )
    lines.append(_row("optimizer step", m.optimizer_step, "total: weights, gradients, state, temporaries"))
    verdict = "fits" if p.fits else "does NOT fit"
    lines.append(_row("peak of a step", m.peak, f"{verdict} in {fmt_bytes(cfg.gpu.memory - cfg.reserve)}"))
    lines += [
        "",
        "Compute per GPU per step",
        f"  {'forward':<24}{p.flops_forward / 1e12:>12.3f} TFLOP",
        f"  {'backward':<24}{p.flops_backward / 1e12:>12.3f} TFLOP",
    ]
    if p.flops_recompute:
        lines.append(f"  {'recomputation':<24}{p.flops_recompute / 1e12:>12.3f} TFLOP (not in MFU)")
    per = f" ({cfg.accumulate} micro-batches)" if cfg.accumulate > 1 else ""
    lines.append(
        f"  {'step time':<24}{_time(p.step_time):>12} at {cfg.mfu:.0%} MFU of {cfg.tflops:g} TFLOPS{per}"
    )
    if p.search_dim is not None:
        lines.append("")
        lines.append(
            f"Largest {p.search_dim} that fits: {p.max_batch:,}" if p.max_batch else f"No {p.search_dim} fits"
        )
    if p.inference is not None:
        i = p.inference
        kv = f" + KV cache {fmt_bytes(i.kv_cache)} ({i.context:,} tokens)" if i.kv_cache else ""
        lines += [
            "",
            f"Inference ({'float32' if cfg.precision == 'fp32' else '16-bit'}, no gradients): weights "
            f"{fmt_bytes(i.weights)} + activations {fmt_bytes(i.activations)}{kv} = {fmt_bytes(i.peak)}: "
            + ("fits" if i.fits else "does NOT fit"),
        ]
    lines += [f"Note: {n}" for n in p.notes]
    return "\n".join(lines)


def _row(name: str, nbytes: int, note: str) -> str:
    return f"  {name:<24}{fmt_bytes(nbytes):>12}   {note}".rstrip()


def _parallel(cfg: PlanConfig) -> str:
    if cfg.dp == 1 and cfg.tp == 1:
        return "1 GPU"
    parts = [f"{cfg.dp * cfg.tp} GPUs: data parallel {cfg.dp}"]
    if cfg.fsdp:
        parts.append("FSDP (weights, gradients and optimizer state sharded per block)")
    elif cfg.zero:
        parts.append(f"ZeRO-{cfg.zero}")
    if cfg.tp > 1:
        parts.append(f"tensor parallel {cfg.tp}")
    return ", ".join(parts)


def _split(p: TrainingPlan) -> str:
    return f" ({p.config.tp}-way tensor parallel where layers split)" if p.config.tp > 1 else ""


def _blocks(rows: list[tuple[str, int]]) -> list[tuple[str, str]]:
    """Rows per block; copies of one repeat (``h.0``, ``h.1``...) share a row."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(rows):
        name, _ = rows[i]
        parent, _, tail = name.rpartition(".")
        j = i
        while tail.isdigit() and j + 1 < len(rows) and rows[j + 1][0].rpartition(".")[0] == parent:
            j += 1
        group = rows[i : j + 1]
        if len(group) > 1:
            big = max(group, key=lambda r: r[1])
            total = sum(r[1] for r in group)
            text = f"{fmt_bytes(total):>12}   ×{len(group)}, largest {big[0]}: {fmt_bytes(big[1])}"
            out.append((f"{group[0][0]} .. {group[-1][0]}", text))
        else:
            out.append((name, f"{fmt_bytes(group[0][1]):>12}"))
        i = j + 1
    return out


def _time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"
