"""``archspec compile``: check a spec, then write each requested artifact atomically."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from archspec.errors import ArchspecError
from archspec.passes import Analysis
from archspec.pipeline import analyze_all, load
from archspec.system.io import Transaction, safe_stem

if TYPE_CHECKING:
    from archspec.backends.torch.weights import Checked

DIAGRAMS = ("svg", "png", "pdf", "dot", "mmd")
ALL = ("txt", "json", "py", "onnx", *DIAGRAMS)


def compile_spec(args: argparse.Namespace, sizes: dict[str, int]) -> int:
    spec = load(Path(args.spec))
    analyses = analyze_all(spec, args.model, sizes)
    emit = _requested(args.emit)
    if not args.quiet:
        from archspec.backends.report import summary_text

        print("\n\n".join(summary_text(a) for a in analyses))
        print()
    if "onnx" in emit:  # the ONNX step's settings, node and memory bounds, before any work
        from archspec.backends.onnx import check_limits, limits

        limits.timeout(args.onnx_timeout)
        for a in analyses:
            check_limits(a, max_nodes=args.onnx_max_nodes)
    args.checked_weights = _weights(args, emit, analyses)
    stem = safe_stem(spec.name)
    notes: list[str] = []
    say = None if args.quiet else _say
    with Transaction(args.out, say=say) as tx:  # every artifact appears, or none does
        for kind in emit:
            _EMITTERS[kind](analyses, tx, stem, args, notes)
    if not args.quiet:
        for note in notes:
            print(note.replace(str(tx.stage), str(tx.out)))
        for path in tx.targets():
            print(f"wrote {path}")
    return 0


def _weights(args: argparse.Namespace, emit: list[str], analyses: list[Analysis]) -> Checked | None:
    """``--weights`` checked against the model's layout (nothing allocated), before any work."""
    if not args.weights:
        return None
    if "onnx" not in emit:
        raise ArchspecError(
            "bad-value",
            "--weights go into the ONNX file, and --emit does not ask for onnx",
            hint="add onnx to --emit (the other artifacts carry no weights)",
        )
    if len(analyses) != 1:
        raise ArchspecError(
            "bad-value",
            f"the spec has {len(analyses)} models; --weights fit one of them",
            hint="name it with --model " + " | ".join(a.model for a in analyses),
        )
    from archspec.backends.onnx.exporter import checked_weights

    return checked_weights(analyses[0], args.weights)


def _requested(emit: list[str] | None) -> list[str]:
    if not emit:
        return [k for k in ALL if _available(k) is None]
    kinds = [k.strip().lower().lstrip(".") for item in emit for k in item.split(",") if k.strip()]
    for k in kinds:
        if k not in ALL:
            raise ArchspecError(
                "unsupported", f"unknown artifact '{k}'", hint="choose from: " + ", ".join(ALL)
            )
        why = _available(k)
        if why:
            raise ArchspecError("missing-dependency", f"cannot emit '{k}': {why}")
    return list(dict.fromkeys(kinds))


def _available(kind: str) -> str | None:
    """None if the backend for ``kind`` can run here, else why not."""
    if kind in ("py", "onnx") and importlib.util.find_spec("torch") is None:
        return "PyTorch is not installed (pip install 'archspec[torch]')"
    if kind == "onnx":
        for mod in ("onnx", "onnxscript", "onnxruntime"):
            if importlib.util.find_spec(mod) is None:
                return f"'{mod}' is not installed (pip install 'archspec[onnx]')"
    if kind in ("svg", "png", "pdf"):
        from archspec.backends.diagram.render import dot_problem

        problem = dot_problem(kind)
        if problem is not None:
            return f"{problem.message} ({problem.hint})"
    return None


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


Emitter = Callable[[list[Analysis], Transaction, str, argparse.Namespace, list[str]], None]


def _txt(
    analyses: list[Analysis], tx: Transaction, stem: str, args: argparse.Namespace, notes: list[str]
) -> None:
    from archspec.backends.report import summary_text

    text = "\n\n".join(summary_text(a) for a in analyses) + "\n"
    tx.path(f"{stem}.summary.txt").write_text(text)


def _json(
    analyses: list[Analysis], tx: Transaction, stem: str, args: argparse.Namespace, notes: list[str]
) -> None:
    from archspec.backends.report import to_json

    tx.path(f"{stem}.summary.json").write_text(json.dumps(to_json(analyses), indent=2) + "\n")


def _py(
    analyses: list[Analysis], tx: Transaction, stem: str, args: argparse.Namespace, notes: list[str]
) -> None:
    from archspec.backends.torch.pysrc import emit

    tx.path(f"{stem}.py").write_text(emit(analyses))


def _onnx(
    analyses: list[Analysis], tx: Transaction, stem: str, args: argparse.Namespace, notes: list[str]
) -> None:
    from archspec.backends.onnx import export_analysis

    for a in analyses:
        name = stem if len(analyses) == 1 else f"{stem}.{safe_stem(a.model)}"
        target = tx.path(f"{name}.onnx")
        if args.external_data:
            tx.path(args.external_data)
        report = export_analysis(
            a,
            target,
            opset=args.opset,
            atol=args.atol,
            external_data=args.external_data,
            progress=not args.quiet and sys.stderr.isatty(),
            timeout=args.onnx_timeout,
            max_nodes=args.onnx_max_nodes,
            weights=getattr(args, "checked_weights", None),
        )
        notes.append(report.describe())


def _diagram(kind: str) -> Emitter:
    def write(
        analyses: list[Analysis], tx: Transaction, stem: str, args: argparse.Namespace, notes: list[str]
    ) -> None:
        from archspec.backends.diagram import render

        render(analyses, tx.path(f"{stem}.{kind}"), depth=args.depth, direction=args.direction)

    return write


_EMITTERS: dict[str, Emitter] = {
    "txt": _txt,
    "json": _json,
    "py": _py,
    "onnx": _onnx,
    **{k: _diagram(k) for k in DIAGRAMS},
}


def verify_file(args: argparse.Namespace, sizes: dict[str, int]) -> int:
    """``archspec verify SPEC FILE.onnx``: one summary line, or one error (exit 1)."""
    from archspec.backends.onnx.verify_file import verify_onnx

    report = verify_onnx(
        args.spec, args.file, args.model, sizes=sizes, atol=args.atol, progress=sys.stderr.isatty()
    )
    print(report.describe())
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0
