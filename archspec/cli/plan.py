"""``archspec plan SPEC``: memory, FLOPs and time of training per GPU (no torch)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from archspec.planner.config import GPUS


def add_plan_command(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Register ``archspec plan`` on the CLI's subparsers."""
    help_ = "plan training: memory per GPU, FLOPs, step time, the largest batch that fits"
    c: argparse.ArgumentParser = sub.add_parser("plan", help=help_, description=help_)
    c.set_defaults(func=run_plan)
    c.add_argument("spec", help="a .yaml or .json spec file")
    c.add_argument("--model", default=None, help="only this model of the spec")
    c.add_argument("--batch", type=int, default=None, help="per-GPU micro-batch: size of the dim `batch`")
    c.add_argument(
        "--dim", action="append", default=[], metavar="NAME=SIZE", help="size of a symbolic dim (repeatable)"
    )
    c.add_argument(
        "--var", action="append", default=[], metavar="NAME=VALUE", help="replace one of the spec's vars"
    )
    c.add_argument(
        "--dtype",
        default="fp32",
        help="fp32; bf16 or fp16 (mixed precision, float32 master weights); pure-bf16 (default fp32)",
    )
    c.add_argument(
        "--optimizer", default="adamw", help="sgd, momentum, adam, adamw, adam8bit (default adamw)"
    )
    c.add_argument(
        "--checkpoint",
        default="none",
        help="activation checkpointing: none, blocks, selective (default none)",
    )
    c.add_argument("--dp", type=int, default=1, help="data-parallel degree (default 1)")
    c.add_argument("--zero", type=int, default=0, choices=[0, 1, 2, 3], help="ZeRO stage (default 0)")
    c.add_argument("--fsdp", action="store_true", help="FSDP2 per block (archspec.shard): ZeRO-3's layout")
    c.add_argument(
        "--tp", type=int, default=1, help="tensor-parallel degree, for layers that split (default 1)"
    )
    c.add_argument("--gpu", default=None, help=f"one of {', '.join(GPUS)} (default h100-80gb)")
    c.add_argument("--memory", default=None, help="a device's memory instead of --gpu (e.g. 24GiB)")
    c.add_argument("--tflops", type=float, default=None, help="its dense peak TFLOPS (with --memory)")
    c.add_argument("--mfu", type=float, default=0.4, help="model FLOPs utilization for the step time (0.4)")
    c.add_argument(
        "--accumulate", type=int, default=1, help="micro-batches per optimizer step (gradient accumulation)"
    )
    c.add_argument("--reserve", default=None, help="memory kept free for CUDA context etc. (default 1GiB)")
    c.add_argument(
        "--attention",
        default="fused",
        choices=["fused", "math"],
        help="fused (flash/memory-efficient SDPA: no score matrix kept) or math (eager attention code)",
    )
    c.add_argument("--context", type=int, default=None, help="KV-cache tokens at inference (default: seq)")
    c.add_argument(
        "--search", default="batch", help="the dim whose largest fitting size is searched (default batch)"
    )
    c.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return c


def run_plan(args: argparse.Namespace) -> int:
    from archspec.cli import sizes_from
    from archspec.pipeline import load
    from archspec.planner import config, plan_all
    from archspec.planner.report import plan_text, plans_json
    from archspec.planner.specvars import load_with_vars, parse_vars

    cfg = config(
        dtype=args.dtype,
        optimizer=args.optimizer,
        checkpoint=args.checkpoint,
        dp=args.dp,
        zero=args.zero,
        fsdp=args.fsdp,
        tp=args.tp,
        gpu_name=args.gpu,
        memory=args.memory,
        tflops=args.tflops,
        mfu=args.mfu,
        accumulate=args.accumulate,
        reserve=args.reserve,
        context=args.context,
        attention=args.attention,
    )
    spec = load_with_vars(args.spec, parse_vars(args.var)) if args.var else load(Path(args.spec))
    plans = plan_all(spec, args.model, sizes=sizes_from(args), search=args.search, cfg=cfg)
    if args.json:
        print(json.dumps(plans_json(plans, single=args.model is not None or len(spec.models) == 1), indent=2))
    else:
        print("\n\n".join(plan_text(p) for p in plans))
    return 0
