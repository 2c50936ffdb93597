"""``archspec.export_onnx``: export a model to ONNX and prove the file right before it lands.

The model is built with ``archspec.build`` and exported with torch's current (dynamo)
exporter. Every plain symbolic input dim becomes a named dynamic axis. The file is written
into a temporary folder beside the target, checked there (``onnx.checker`` full check,
strict shape inference against archspec's own shapes, onnxruntime against torch at two
sizes of every dynamic dim) and only then moved into place. A failure leaves the target
directory as it was.

This module imports torch and onnx lazily: it is imported only when exporting.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archspec.backends.onnx import annotate, exporter, files, limits, verify
from archspec.backends.onnx.limits import check_limits, lint
from archspec.backends.onnx.report import ExportReport, Progress, tolerance
from archspec.errors import ArchspecError
from archspec.passes import Analysis
from archspec.pipeline import analyze, load
from archspec.spec import Spec
from archspec.system.interrupts import deferred, time_limit

if TYPE_CHECKING:
    from archspec.backends.torch.weights import Checked, Weights

__all__ = ["ExportReport", "check_limits", "export_analysis", "export_onnx", "lint"]


def export_onnx(
    spec_or_path: Spec | str | Path,
    path: str | Path,
    model: str | None = None,
    opset: int | None = None,
    *,
    atol: float | None = None,
    external_data: str | None = None,
    sizes: Mapping[str, int] | None = None,
    timeout: float | None = None,
    max_nodes: int | None = None,
    memory_budget: int | None = None,
    weights: Weights | None = None,
    module: Any = None,
) -> ExportReport:
    """Export one model of a spec (the first by default) to ``path`` and verify it.

    ``sizes`` fixes symbolic dims (they become static in the file); the remaining plain
    symbolic input dims are dynamic axes. ``external_data`` names the weights file (beside
    ``path``) that models of 2 GB or more need. Raises ``ArchspecError`` when the model
    cannot be exported or the file fails verification; the target is then left untouched.
    Bounds (``archspec.backends.onnx.limits``): ``max_nodes`` layer nodes (default 5,000),
    ``timeout`` seconds (default 300; 0 = none), and the memory budget (weights, example
    inputs and activations; ``memory_budget`` bytes or ``ARCHSPEC_MEMORY_BUDGET``).

    The file carries the spec's initial weights (its seed's), or trained ones: ``weights`` (a
    safetensors file, a torch checkpoint or a mapping of names to tensors, as for
    ``archspec.build``), or ``module``'s (a trained ``torch.nn.Module`` with the spec model's
    state_dict layout). Either is checked against that layout before anything is built or
    written (one ``weights`` error); the graph is the spec's, and the file is also verified at
    those weights against the module they came from (onnxruntime, eval mode).
    """
    if weights is not None and module is not None:
        raise ArchspecError("bad-value", "give weights or module, not both")
    spec = spec_or_path if isinstance(spec_or_path, Spec) else load(spec_or_path)
    name = spec.pick(model)[0]
    a = analyze(spec, name, sizes)
    return export_analysis(
        a,
        path,
        opset=opset,
        atol=atol,
        external_data=external_data,
        timeout=timeout,
        max_nodes=max_nodes,
        memory_budget=memory_budget,
        weights=module if module is not None else weights,
        reference=module,
    )


def export_analysis(
    a: Analysis,
    path: str | Path,
    *,
    opset: int | None = None,
    atol: float | None = None,
    external_data: str | None = None,
    progress: bool = False,
    timeout: float | None = None,
    max_nodes: int | None = None,
    memory_budget: int | None = None,
    weights: Weights | Checked | None = None,
    reference: Any = None,
) -> ExportReport:
    """Export an analyzed model to ``path``; see ``export_onnx``. ``reference``: the module
    ``weights`` came from (default: the built module with them)."""
    limits.require_dependencies()
    target = Path(path)
    say = Progress(progress)
    plan = check_limits(a, max_nodes=max_nodes, memory_budget=memory_budget)
    seconds = limits.timeout(timeout)
    opset = limits.check_opset(opset)
    lint(a, opset)
    data_name = limits.external_data_name(a, target, external_data)
    tol = tolerance(a, atol)
    fit = exporter.checked_weights(a, weights) if weights is not None else None

    say(f"exporting {a.model} to ONNX (opset {opset})...")
    t0 = time.perf_counter()
    made = files.missing_folders(target.parent)
    tmpdir = files.tempdir(target)
    done = False
    try:
        tmp = tmpdir / target.name
        with time_limit(seconds, limits.expired(a.model, seconds or 0)):
            module = exporter.build_module(a, fit)
            program = exporter.run(a, module, plan, opset)
            exporter.check_dims_kept(a, program)
            annotate.annotate(program.model, a, module)
            files.save(program.model, tmp, data_name)
            del program
            t1 = time.perf_counter()
            trained = (reference if reference is not None else module) if fit is not None else None
            found = verify.verify(a, module, tmp, plan, tol, say, trained)
            t2 = time.perf_counter()
        written = [tmp] + ([tmpdir / data_name] if data_name else [])
        size = sum(f.stat().st_size for f in written)
        with deferred():  # moving the files into place is not cut in half by a signal
            files.install([(f, target.parent / f.name) for f in written], tmpdir)
        done = True
    finally:
        with deferred():
            shutil.rmtree(tmpdir, ignore_errors=True)
            if not done:
                files.remove_empty(made)
    paths = [target] + ([target.parent / data_name] if data_name else [])
    return ExportReport(
        paths=paths,
        model=a.model,
        opset=found.opset,
        max_abs_diff=found.diff.max_abs,
        atol=tol.atol,
        rtol=tol.rtol,
        max_abs_output=found.diff.max_ref,
        sizes_checked=found.sizes,
        dynamic_dims=list(plan.dims),
        export_seconds=t1 - t0,
        verify_seconds=t2 - t1,
        file_bytes=size,
        external_data=data_name,
        outputs_checked=list(a.outputs),
        sensitivity=found.sensitivity,
        rounding=found.diff.rounding,
        warnings=found.warnings,
        weights=fit.label if fit is not None else None,
    )
