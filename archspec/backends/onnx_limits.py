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

This module imports neither torch nor onnx.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from archspec.errors import ArchspecError

DEFAULT_MAX_NODES = 5_000
DEFAULT_TIMEOUT = 300.0
MAX_NODES_ENV = "ARCHSPEC_ONNX_MAX_NODES"
TIMEOUT_ENV = "ARCHSPEC_ONNX_TIMEOUT"
WEIGHT_COPIES = 3  # the torch module, the ONNX model, onnxruntime's session


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
