"""What an export wrote and how it was verified; the tolerance; message formatting."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from archspec.errors import ArchspecError
from archspec.passes import Analysis

DEFAULT_ATOL = {"float32": 1e-4, "float64": 1e-7, "float16": 1e-2, "bfloat16": 5e-2}
# Plus this much of |y|: float32 spacing at |y| = 500 is 3e-5, so deep models with large
# outputs (GPT-2's logits reach ~500 at random init) cannot meet 1e-4 alone.
DEFAULT_RTOL = {"float32": 1e-5, "float64": 1e-9, "float16": 1e-3, "bfloat16": 1e-2}


@dataclass
class ExportReport:
    """What an export wrote and how it was verified."""

    paths: list[Path]  # the .onnx file, then the external data file if any
    model: str
    opset: int
    max_abs_diff: float
    atol: float
    rtol: float  # an output passes where |Δ| <= atol + rtol * |y| (numpy.allclose)
    max_abs_output: float  # the largest |y| torch produced
    sizes_checked: list[dict[str, int]]  # the dynamic dims' sizes onnxruntime ran at
    dynamic_dims: list[str]
    export_seconds: float
    verify_seconds: float
    file_bytes: int  # all files together
    external_data: str | None = None
    outputs_checked: list[str] = field(default_factory=list)

    def describe(self) -> str:
        where = ", ".join(str(p) for p in self.paths)
        head = f"onnx: {where} (opset {self.opset}, {mb(self.file_bytes)})"
        at = " and ".join(fmt_sizes(s) for s in self.sizes_checked) or "the declared shapes"
        check = f"verified at {at}: max |Δ| {self.max_abs_diff:.1e} ≤ {self.atol:.0e}"
        if self.max_abs_diff > self.atol:  # passed on the relative part
            check += f" + {self.rtol:.0e}·|y| (|y| ≤ {self.max_abs_output:.3g})"
        times = f"export {self.export_seconds:.1f} s, verify {self.verify_seconds:.1f} s"
        return f"{head}, {check} ({times})"


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float


def tolerance(a: Analysis, atol: float | None) -> Tolerance:
    """The loosest default among the model's float dtypes (float32 when it has none)."""
    dtypes = [t.dtype for t in (*a.inputs.values(), *a.outputs.values()) if t.dtype in DEFAULT_ATOL]
    dtype = max(dtypes or ["float32"], key=lambda d: DEFAULT_ATOL[d])
    if atol is not None and not atol >= 0:
        raise ArchspecError("export", f"the tolerance must be a number >= 0, got {atol}")
    return Tolerance(atol if atol is not None else DEFAULT_ATOL[dtype], DEFAULT_RTOL[dtype])


@dataclass
class Diff:
    """How far onnxruntime is from torch: the largest |Δ| and the largest |y|."""

    max_abs: float = 0.0
    max_ref: float = 0.0

    def merge(self, other: Diff) -> Diff:
        return Diff(max(self.max_abs, other.max_abs), max(self.max_ref, other.max_ref))


class Progress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.stream = sys.stderr

    def __call__(self, line: str) -> None:
        if self.enabled:
            print(line, file=self.stream, flush=True)


def fmt_sizes(sizes: Mapping[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sizes.items())


def mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:300]


def detail(e: BaseException) -> str | None:
    """The rest of a multi-line error message (None when the first line says it all)."""
    text = str(e).strip()
    return tail(text) if "\n" in text else None


def tail(text: str, lines: int = 25) -> str:
    kept = [ln for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(kept[-lines:])
