"""What a training plan assumes: precision, optimizer, checkpointing, parallelism, device.

Bytes per parameter (per GPU before sharding), stated so that every number can be checked:

| precision | weights | gradients | optimizer dtype |
|---|---|---|---|
| ``fp32`` | 4 | 4 | float32 |
| ``bf16`` / ``fp16`` (mixed: float32 master weights, 16-bit compute) | 4 + 2 | 4 | float32 |
| ``pure-bf16`` (everything bfloat16) | 2 | 2 | bfloat16 |

Optimizer state per trainable parameter, in the optimizer dtype: ``sgd`` none, ``momentum`` one
buffer, ``adam``/``adamw`` two (exp_avg, exp_avg_sq), ``adam8bit`` two uint8 states plus a
float32 absmax per block of 256 (bitsandbytes' blockwise 8-bit Adam; tensors under 4,096
elements keep float32 states).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from archspec.errors import ArchspecError
from archspec.layers.memory import Attention, Device

Precision = Literal["fp32", "bf16", "fp16", "pure-bf16"]
Optimizer = Literal["sgd", "momentum", "adam", "adamw", "adam8bit"]
Checkpoint = Literal["none", "blocks", "selective"]

PRECISIONS: dict[str, Precision] = {
    "fp32": "fp32",
    "float32": "fp32",
    "bf16": "bf16",
    "bfloat16": "bf16",
    "fp16": "fp16",
    "float16": "fp16",
    "pure-bf16": "pure-bf16",
    "bf16-pure": "pure-bf16",
}
OPTIMIZERS: dict[str, Optimizer] = {
    "sgd": "sgd",
    "momentum": "momentum",
    "sgd-momentum": "momentum",
    "sgd+momentum": "momentum",
    "adam": "adam",
    "adamw": "adamw",
    "adam8bit": "adam8bit",
    "8bit-adam": "adam8bit",
    "adamw8bit": "adam8bit",
}
CHECKPOINTS: dict[str, Checkpoint] = {
    "none": "none",
    "blocks": "blocks",
    "block": "blocks",
    "full": "blocks",
    "selective": "selective",
}
STATES = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2, "adam8bit": 2}
GIB = 1024**3


@dataclass(frozen=True)
class Gpu:
    """A device: nominal memory (bytes) and dense peak TFLOPS for 16-bit tensor cores and for
    float32 (no TF32: torch's default for matmuls). Figures from NVIDIA's data sheets."""

    name: str
    memory: int
    tflops16: float
    tflops32: float


GPUS = {
    g.name: g
    for g in (
        Gpu("h100-80gb", 80 * GIB, 989.4, 66.9),  # SXM5
        Gpu("h100-pcie", 80 * GIB, 756.0, 51.2),
        Gpu("h200", 141 * GIB, 989.4, 66.9),
        Gpu("a100-80gb", 80 * GIB, 312.0, 19.5),
        Gpu("a100-40gb", 40 * GIB, 312.0, 19.5),
        Gpu("v100-32gb", 32 * GIB, 125.0, 15.7),  # fp16 only (no bfloat16)
        Gpu("v100-16gb", 16 * GIB, 125.0, 15.7),
        Gpu("l40s", 48 * GIB, 362.1, 91.6),
        Gpu("a10", 24 * GIB, 125.0, 31.2),
        Gpu("l4", 24 * GIB, 121.0, 30.3),
    )
}
DEFAULT_GPU = "h100-80gb"


@dataclass(frozen=True)
class PlanConfig:
    """Everything a plan assumes besides the model and its sizes."""

    precision: Precision = "fp32"
    optimizer: Optimizer = "adamw"
    checkpoint: Checkpoint = "none"
    dp: int = 1  # data-parallel degree (GPUs holding a replica or a shard)
    zero: int = 0  # ZeRO stage: 0 (DDP), 1 (optimizer), 2 (+ gradients), 3 (+ weights)
    fsdp: bool = False  # FSDP2 (``archspec.shard``): ZeRO-3's layout, per block
    tp: int = 1  # tensor-parallel degree
    gpu: Gpu = field(default_factory=lambda: GPUS[DEFAULT_GPU])
    gpu_default: bool = True  # no device was named
    mfu: float = 0.4
    accumulate: int = 1  # micro-batches per optimizer step (gradient accumulation)
    reserve: int = GIB  # CUDA context, cuBLAS/cuDNN workspaces, allocator slack
    kernels: Device = "cuda"  # whose saved-tensor rules (``cpu`` to compare with a CPU run)
    attention: Attention = "fused"  # flash/memory-efficient SDPA, or the math path (eager code)
    context: int | None = None  # KV-cache tokens at inference (default: the seq size)

    @property
    def sharded(self) -> int:
        return 3 if self.fsdp else self.zero

    @property
    def mixed(self) -> bool:
        return self.precision in ("bf16", "fp16")

    @property
    def act_bytes(self) -> int:
        return 4 if self.precision == "fp32" else 2

    @property
    def weight_bytes(self) -> int:
        return {"fp32": 4, "bf16": 6, "fp16": 6, "pure-bf16": 2}[self.precision]

    @property
    def grad_bytes(self) -> int:
        return 2 if self.precision == "pure-bf16" else 4

    @property
    def state_bytes(self) -> int:
        """Bytes of one optimizer state element (the optimizer's dtype)."""
        return 2 if self.precision == "pure-bf16" else 4

    @property
    def tflops(self) -> float:
        return self.gpu.tflops32 if self.precision == "fp32" else self.gpu.tflops16


def choice(value: str, table: dict[str, str], what: str) -> str:
    key = value.strip().lower()
    if key not in table:
        raise ArchspecError(
            "bad-value",
            f"unknown {what} {value!r}",
            expected=", ".join(sorted(set(table.values()))),
            got=value,
        )
    return table[key]


def gpu(name: str) -> Gpu:
    key = name.strip().lower()
    if key not in GPUS:
        raise ArchspecError(
            "bad-value",
            f"unknown GPU {name!r}",
            expected=", ".join(GPUS),
            got=name,
            hint="or describe one: --memory 24GiB --tflops 312",
        )
    return GPUS[key]


_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNITS |= {"KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4}


def parse_bytes(text: str) -> int:
    """``24GiB``, ``80GB``, ``512MiB`` or a plain number of bytes."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", text)
    unit = m.group(2).upper() if m else ""
    if not m or unit not in _UNITS or float(m.group(1)) <= 0:
        raise ArchspecError(
            "bad-value", f"{text!r} is not a memory size", expected="e.g. 24GiB, 80GB, 512MiB", got=text
        )
    return int(float(m.group(1)) * _UNITS[unit])


def custom_gpu(memory: int, tflops: float) -> Gpu:
    if not tflops > 0:
        raise ArchspecError("bad-value", f"--tflops must be positive, got {tflops}")
    return Gpu(f"custom ({fmt_bytes(memory)}, {tflops:g} TFLOPS)", memory, tflops, tflops)


def check(cfg: PlanConfig) -> None:
    """Refuse settings that cannot be meant."""
    for what, n in (
        ("data-parallel degree", cfg.dp),
        ("tensor-parallel degree", cfg.tp),
        ("number of accumulated micro-batches", cfg.accumulate),
    ):
        if n < 1:
            raise ArchspecError("bad-value", f"the {what} must be at least 1, got {n}")
    if cfg.zero not in (0, 1, 2, 3):
        raise ArchspecError("bad-value", f"ZeRO stage must be 0, 1, 2 or 3, got {cfg.zero}")
    if not 0 < cfg.mfu <= 1:
        raise ArchspecError("bad-value", f"MFU must be in (0, 1], got {cfg.mfu}")
    if cfg.context is not None and cfg.context < 0:
        raise ArchspecError("bad-value", f"the context must be at least 0, got {cfg.context}")


def fmt_bytes(n: float) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.2f} {unit}"
        value /= 1024
    return f"{n} B"
