"""The ONNX step's bounds: layer nodes, wall-clock time and memory, each with a clean error.

- Nodes: a model with more than ``max_nodes`` layer nodes (after every block, repeat and
  model call; default 5,000, ``ARCHSPEC_ONNX_MAX_NODES`` or ``--onnx-max-nodes``) is refused
  before torch is imported. The exporter's time grows faster than linearly with the graph:
  a 2,000-layer chain takes about two minutes, 20,000 would take hours.
- Time: the build, export and verification stop after ``timeout`` seconds (default 300,
  ``ARCHSPEC_ONNX_TIMEOUT`` or ``--onnx-timeout``; 0 means no limit).
- Memory: weights (three copies: torch's module, the ONNX model and onnxruntime's session),
  example inputs and every layer's output, at each size the step runs the model at, must
  fit the memory budget (``archspec.system.guard``).

Also the other checks made before exporting: the opset, the lint of every layer, the
external data file's name. This module imports neither torch nor onnx at import time.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

from archspec.backends.onnx.report import mb
from archspec.backends.onnx.sizes import SizePlan
from archspec.errors import ArchspecError
from archspec.passes import Analysis
from archspec.system.guard import check_forward_budget

DEFAULT_MAX_NODES = 5_000
DEFAULT_TIMEOUT = 300.0
MAX_NODES_ENV = "ARCHSPEC_ONNX_MAX_NODES"
TIMEOUT_ENV = "ARCHSPEC_ONNX_TIMEOUT"
WEIGHT_COPIES = 3  # the torch module, the ONNX model, onnxruntime's session
MIN_OPSET = 18  # the dynamo exporter's own operator set; older ones need a lossy conversion
# One protobuf file holds at most 2 GiB; keep room for the graph itself.
SINGLE_FILE_LIMIT = 2**31 - 2**26
_PIP = "pip install 'archspec[onnx]'"
_ITEMSIZE = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "bool": 1}


def max_nodes(value: int | None = None) -> int:
    """The node bound: ``value``, else ``$ARCHSPEC_ONNX_MAX_NODES``, else 5,000."""
    if value is None:
        env = os.environ.get(MAX_NODES_ENV, "").strip()
        if not env:
            return DEFAULT_MAX_NODES
        if not env.isdigit():
            raise ArchspecError(
                "bad-value", f"{MAX_NODES_ENV}={env!r} is not a number of nodes", hint="e.g. 20000"
            )
        value = int(env)
    if value < 1:
        raise ArchspecError("bad-value", f"the ONNX node bound must be at least 1, got {value}")
    return value


def timeout(value: float | None = None) -> float | None:
    """The time bound in seconds (None: no limit): ``value``, else ``$ARCHSPEC_ONNX_TIMEOUT``,
    else 300."""
    if value is None:
        env = os.environ.get(TIMEOUT_ENV, "").strip()
        if not env:
            return DEFAULT_TIMEOUT
        try:
            value = float(env)
        except ValueError:
            raise ArchspecError(
                "bad-value", f"{TIMEOUT_ENV}={env!r} is not a number of seconds", hint="e.g. 600, or 0"
            ) from None
    if not value >= 0 or value == float("inf"):
        raise ArchspecError("bad-value", f"the ONNX time limit must be a number of seconds >= 0, got {value}")
    return value or None


def check_nodes(model: str, count: int, bound: int | None = None) -> None:
    """Refuse a model with more than the node bound's layer nodes."""
    limit = max_nodes(bound)
    if count > limit:
        raise ArchspecError(
            "limit",
            f"model '{model}' has {count:,} layer nodes; the ONNX export takes at most {limit:,} "
            "(its time grows faster than the graph)",
            expected=f"at most {limit:,} layer nodes",
            got=f"{count:,}",
            hint=f"raise the bound with --onnx-max-nodes N (or {MAX_NODES_ENV}=N), and the time "
            f"limit with --onnx-timeout SECONDS (or {TIMEOUT_ENV})",
        )


def expired(model: str, seconds: float) -> Callable[[], ArchspecError]:
    """The error for an export that ran out of time."""

    def error() -> ArchspecError:
        return ArchspecError(
            "limit",
            f"the ONNX export of model '{model}' was stopped after its time limit of {seconds:g} s; "
            "nothing was written",
            hint=f"raise the limit with --onnx-timeout SECONDS (or {TIMEOUT_ENV}=SECONDS; 0 = none)",
        )

    return error


def check_limits(a: Analysis, *, max_nodes: int | None = None, memory_budget: int | None = None) -> SizePlan:
    """The ONNX step's static bounds, before torch is imported: at most ``max_nodes`` layer
    nodes, and weights, example inputs and activations at every size the step runs the model
    at within the memory budget. Returns the sizes it will run at."""
    check_nodes(a.model, sum(1 for _ in a.graph.layers()), max_nodes)
    plan = SizePlan.make(a)
    check_forward_budget(
        a,
        [plan.trace, *plan.checks],
        dtype=float_dtype(a),
        weight_copies=WEIGHT_COPIES,
        budget=memory_budget,
        what="the ONNX export",
    )
    return plan


def require_dependencies() -> None:
    for mod in ("torch", "onnx", "onnxscript", "onnxruntime"):
        if importlib.util.find_spec(mod) is None:
            raise ArchspecError(
                "missing-dependency",
                f"ONNX export needs '{mod}', which is not installed",
                hint=_PIP,
            )


def check_opset(opset: int | None) -> int:
    from torch.onnx import _constants

    top = int(getattr(_constants, "ONNX_MAX_OPSET", 23))
    if opset is None:
        return int(getattr(_constants, "ONNX_DEFAULT_OPSET", MIN_OPSET))
    if not MIN_OPSET <= opset <= top:
        raise ArchspecError(
            "unsupported",
            f"ONNX opset {opset} is not supported by this exporter",
            expected=f"an opset from {MIN_OPSET} to {top}",
            got=str(opset),
            hint="leave --opset out to use the exporter's default",
        )
    return opset


def lint(a: Analysis, opset: int) -> None:
    """Every layer that cannot be exported at ``opset``, reported at once."""
    issues: list[tuple[str, str, str]] = []
    for _, node in a.graph.walk():
        if node.kind == "layer" and node.layer is not None and node.params is not None:
            why = node.layer.onnx_issue(node.params, opset, [a.shape(t) for t in node.in_types])
            if why:
                issues.append((node.path, node.type, why))
    if not issues:
        return
    lines = "\n".join(f"  - {path} ({kind}): {why}" for path, kind, why in issues)
    raise ArchspecError(
        "unsupported",
        f"{len(issues)} layer(s) of model '{a.model}' cannot be exported to ONNX opset {opset}:\n{lines}",
        node=issues[0][0] if len(issues) == 1 else None,
        hint="change those layers, or try another --opset",
    )


def external_data_name(a: Analysis, target: Path, name: str | None) -> str | None:
    """The external data file name to use, or None for one self-contained file."""
    if name is not None:
        bad = not name or name in (".", "..") or Path(name).name != name or "\\" in name
        if bad or name == target.name:
            raise ArchspecError(
                "export",
                f"external data name '{name}' must be a plain file name beside the .onnx file",
                hint=f"e.g. --external-data {target.stem}.onnx.data",
            )
        return name
    size = weight_bytes(a)
    if size >= SINGLE_FILE_LIMIT:
        raise ArchspecError(
            "export",
            f"model '{a.model}' has {mb(size)} of weights; one ONNX file holds at most 2 GB",
            hint=f"store the weights beside it: --external-data {target.stem}.onnx.data "
            f"(export_onnx(..., external_data='{target.stem}.onnx.data'))",
        )
    return None


def weight_bytes(a: Analysis) -> int:
    """Bytes of parameters and buffers, as archspec counts them."""
    return (a.total_params + a.buffers) * _ITEMSIZE.get(float_dtype(a) or "float32", 4)


def float_dtype(a: Analysis) -> str | None:
    """The floating dtype of the model's inputs (None when every input is integer)."""
    for t in a.inputs.values():
        if t.dtype.startswith(("float", "bfloat")):
            return t.dtype
    return None
