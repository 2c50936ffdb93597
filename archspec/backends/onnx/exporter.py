"""The torch (dynamo) exporter: building the module, calling the exporter quietly, and the
workarounds for its bugs (each says which torch bug it works around)."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from archspec.backends.onnx.limits import float_dtype
from archspec.backends.onnx.optimize import optimize
from archspec.backends.onnx.report import detail, first_line, tail
from archspec.backends.onnx.sizes import SizePlan, dynamic_shapes
from archspec.errors import ArchspecError
from archspec.passes import Analysis
from archspec.system.interrupts import deferred

if TYPE_CHECKING:
    import torch

    from archspec.backends.torch.weights import Checked, Weights

EXPORT_SEED = 0  # weights of an export when the spec sets no seed


def build_dtype(a: Analysis) -> torch.dtype | None:
    """The dtype the export builds the model in (None: torch's default, float32)."""
    import torch

    dtype = float_dtype(a)
    return getattr(torch, dtype) if dtype not in (None, "float32") else None


def checked_weights(a: Analysis, weights: Weights | Checked) -> Checked:
    """``weights`` checked against the layout of the module the export builds (nothing allocated)."""
    from archspec.backends.torch.weights import checked

    return checked(a.spec, a.model, weights, build_dtype(a))


def build_module(a: Analysis, weights: Checked | None = None) -> torch.nn.Module:
    """The module to export: the spec's seed's weights, or the given (checked) ones."""
    from archspec.backends.torch.builder import build

    seed = a.graph.seed if a.graph.seed is not None else a.spec.file.seed
    module = build(
        a.spec,
        a.model,
        dtype=build_dtype(a),
        seed=EXPORT_SEED if seed is None else seed,  # the same spec exports the same weights
    )
    if weights is not None:
        weights.load_into(module)
    return module.eval()


def example(a: Analysis, sizes: dict[str, int], seed: int = 0) -> tuple[torch.Tensor, ...]:
    from archspec.backends.torch.builder import example_inputs

    return example_inputs(a.spec, a.model, {**a.sizes, **sizes}, seed=seed)


def run(a: Analysis, module: torch.nn.Module, plan: SizePlan, opset: int) -> Any:
    import torch

    args = example(a, plan.trace)
    shapes = dynamic_shapes(a, plan) if plan.dims else None
    with _captured() as log, _rnn_patches(bool(plan.dims)):
        try:
            program = torch.onnx.export(
                module,
                args,
                None,
                dynamo=True,
                dynamic_shapes=shapes,
                external_data=False,
                opset_version=opset,
                input_names=list(a.inputs),
                output_names=list(a.outputs),
                verbose=False,
                optimize=False,  # optimize.py runs the optimizer, keeping the weights' names
            )
            if program is not None:
                optimize(program.model, set(module.state_dict()))
        except Exception as e:
            err = e
        else:
            return program
    raise ArchspecError(
        "export",
        f"torch.onnx.export failed for model '{a.model}': {first_line(err)}",
        got="\n".join(t for t in (tail(log.text(), 12), detail(err)) if t) or None,
        hint=_export_hint(err, plan),
    ) from err


@contextlib.contextmanager
def _rnn_patches(dynamic: bool) -> Iterator[None]:
    """Keep LSTM/GRU sequence lengths dynamic through the whole export (two torch bugs).

    For dynamic shapes the exporter swaps in a while-loop decomposition of aten.lstm/gru,
    but only around the capture step: the decomposition step then recomputes their output
    shapes with the Python-loop decomposition and bakes the traced length into whatever
    reads them (two stacked LSTMs: a Reshape to [7, -1, 5]; pytorch/pytorch#191855, fixed
    upstream by #193192). So archspec keeps the patch on for the whole export. And the patch
    edits ``py_kernels`` without clearing the ops' dispatch caches, so the kernel cached by
    one export leaks into the next (and into eager runs); the caches are cleared around it.
    """
    _clear_rnn_dispatch()
    try:
        with contextlib.ExitStack() as stack:
            if dynamic:
                for patch in _while_loop_rnn_patches():
                    stack.enter_context(patch)
                _clear_rnn_dispatch()
            yield
    finally:
        _clear_rnn_dispatch()


def _while_loop_rnn_patches() -> list[contextlib.AbstractContextManager[None]]:
    try:
        from torch.export import _patches
    except ImportError:  # an older or newer torch: rely on the exporter and on verification
        return []
    names = ("register_lstm_while_loop_decomposition", "register_gru_while_loop_decomposition")
    return [getattr(_patches, n)() for n in names if hasattr(_patches, n)]


def _clear_rnn_dispatch() -> None:
    import torch

    for name in ("lstm", "gru", "rnn_tanh", "rnn_relu"):
        packet = getattr(torch.ops.aten, name, None)
        for overload in ("input", "data"):
            cache = getattr(getattr(packet, overload, None), "_dispatch_cache", None)
            if isinstance(cache, dict):
                cache.clear()


def check_dims_kept(a: Analysis, program: Any) -> None:
    """The exporter may silently fix a dynamic dim at its traced size (it "refines" the
    dynamic shapes from torch.export's suggested fixes); say so before verifying."""
    import onnx_ir as ir

    for value, (name, t) in zip(program.model.graph.inputs, a.inputs.items(), strict=False):
        if value.shape is None:
            continue
        for i, (d, ours) in enumerate(zip(value.shape, t.shape, strict=False)):
            if not isinstance(ours, int) and not isinstance(d, ir.SymbolicDim):
                raise ArchspecError(
                    "export",
                    f"the exporter fixed dim {i} ('{ours}') of input '{name}' at its traced size {d}",
                    node=name,
                    hint="a layer's torch code specializes on that size; fix it with sizes (--dim "
                    f"{ours}=N) to export a static graph",
                )


def _export_hint(err: Exception, plan: SizePlan) -> str:
    text = str(err)
    if "Constraints violated" in text or "specialized" in text or "guard" in text.lower():
        dims = ", ".join(plan.dims)
        return f"the model constrains a dynamic dim ({dims}); fix it with sizes (--dim NAME=N)"
    return "the exporter's messages are above; the layer named there may need a different setting"


class _Log:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def text(self) -> str:
        return "".join(self.parts)


@contextlib.contextmanager
def _captured() -> Iterator[_Log]:
    """Swallow everything the exporter prints (Python streams, warnings and the C-level fds)."""
    log = _Log()
    buf = io.StringIO()
    with tempfile.TemporaryFile(mode="w+b") as raw, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        saved = _redirect_fds(raw.fileno())
        try:
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
                yield log
        finally:
            with deferred():  # a signal must not leave stdout and stderr pointing at the log
                _restore_fds(saved)
            raw.seek(0)
            log.parts += [buf.getvalue(), raw.read().decode("utf-8", "replace")]
            log.parts += [f"{w.category.__name__}: {w.message}\n" for w in caught]


def _redirect_fds(to: int) -> list[tuple[int, int]]:
    saved = []
    for fd in (1, 2):
        with contextlib.suppress(OSError, ValueError):
            for stream in (sys.__stdout__, sys.__stderr__):
                if stream is not None:
                    with contextlib.suppress(OSError, ValueError):
                        stream.flush()
            saved.append((fd, os.dup(fd)))
            os.dup2(to, fd)
    return saved


def _restore_fds(saved: list[tuple[int, int]]) -> None:
    for fd, copy in saved:
        os.dup2(copy, fd)
        os.close(copy)
