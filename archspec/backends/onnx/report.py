"""What an export wrote and how it was verified; the tolerance; message formatting."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from archspec.errors import ArchspecError
from archspec.passes import Analysis

DEFAULT_ATOL = {"float32": 1e-4, "float64": 1e-7, "float16": 1e-2, "bfloat16": 5e-2}
# Plus this much of the output's largest |y|: rounding grows with the activations (GPT-2's logits
# reach ~500 at random init, where float32 values are 3e-5 apart; an exercised ResNet-50 differs
# by about 4e-5 of its largest output between torch and onnxruntime).
DEFAULT_RTOL = {"float32": 1e-4, "float64": 1e-9, "float16": 1e-3, "bfloat16": 1e-2}
# A comparison is vacuous unless the outputs move, between two inputs, by this many tolerances.
SENSITIVITY = 10.0


@dataclass
class ExportReport:
    """What an export wrote and how it was verified."""

    paths: list[Path]  # the .onnx file, then the external data file if any
    model: str
    opset: int
    max_abs_diff: float
    atol: float
    rtol: float  # an output passes where max |Δ| <= atol + rtol * max |y|
    max_abs_output: float  # the largest |y| torch produced
    sizes_checked: list[dict[str, int]]  # the dynamic dims' sizes onnxruntime ran at
    dynamic_dims: list[str]
    export_seconds: float
    verify_seconds: float
    file_bytes: int  # all files together
    external_data: str | None = None
    outputs_checked: list[str] = field(default_factory=list)
    sensitivity: float | None = None  # how far the outputs move between two inputs, in tolerances
    warnings: list[str] = field(default_factory=list)
    # Where an output missed atol + rtol * max |y| but onnxruntime was as close to torch's float64
    # outputs as torch's own float32 ones (within ROUNDING times): the |Δ| that was allowed for
    # that rounding. Always max |Δ| <= atol + rtol * max |y| + rounding.
    rounding: float = 0.0
    weights: str | None = None  # where given weights came from (None: the spec's initial weights)

    @property
    def max_rel_diff(self) -> float:
        """max |Δ| / max |y| (0 when every output is 0)."""
        return self.max_abs_diff / self.max_abs_output if self.max_abs_output else 0.0

    def describe(self) -> str:
        where = ", ".join(str(p) for p in self.paths)
        head = f"onnx: {where} (opset {self.opset}, {mb(self.file_bytes)})"
        if self.weights:
            head += f" with {self.weights}"
        at = " and ".join(fmt_sizes(s) for s in self.sizes_checked) or "the declared shapes"
        check = (
            f"verified at {at}: relative error {self.max_rel_diff:.1e} ≤ {self.rtol:.0e} "
            f"(max |Δ| {self.max_abs_diff:.1e}, max |y| {self.max_abs_output:.3g})"
            if not self.rounding
            else f"verified at {at}: relative error {self.max_rel_diff:.1e}, float32 rounding: as close to "
            f"torch in float64 as torch in float32 is (max |Δ| {self.max_abs_diff:.1e}, max |y| "
            f"{self.max_abs_output:.3g})"
        )
        times = f"export {self.export_seconds:.1f} s, verify {self.verify_seconds:.1f} s"
        return "\n".join([f"{head}, {check} ({times})"] + [f"warning: {w}" for w in self.warnings])


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float

    def bound(self, size: float) -> float:
        """The largest |Δ| allowed for an output whose largest |y| is ``size``."""
        return self.atol + self.rtol * size


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
    rounding: float = 0.0  # float32 rounding allowed beyond the bound, from a float64 run (0: not needed)

    def merge(self, other: Diff) -> Diff:
        return Diff(
            max(self.max_abs, other.max_abs),
            max(self.max_ref, other.max_ref),
            max(self.rounding, other.rounding),
        )

    @property
    def relative(self) -> float:
        """max |Δ| / max |y| (0 when every output is 0)."""
        return self.max_abs / self.max_ref if self.max_ref else 0.0


@dataclass
class Verified:
    """What verification found: the file's opset, the differences, the sizes run at, how far
    the outputs move between two inputs (in tolerances; None without float outputs), the
    state_dict keys exercised, and warnings."""

    opset: int
    diff: Diff
    sizes: list[dict[str, int]]
    sensitivity: float | None = None
    exercised: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


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
