"""``archspec compile``: check a spec, then write each requested artifact atomically."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path

from archspec.errors import ArchspecError
from archspec.passes import Analysis, analyze_all
from archspec.spec import load

DIAGRAMS = ("svg", "png", "pdf", "dot", "mmd")
ALL = ("txt", "json", "py", "onnx", *DIAGRAMS)


def compile_spec(args: argparse.Namespace, sizes: dict[str, int]) -> int:
    spec = load(Path(args.spec))
    analyses = analyze_all(spec, args.model, sizes)
    emit = _requested(args.emit)
    if not args.quiet:
        from archspec.report import summary_text

        print("\n\n".join(summary_text(a) for a in analyses))
        print()
    out = Path(args.out)
    stem = _stem(spec.name)
    written: list[Path] = []
    for kind in emit:
        written += _EMITTERS[kind](analyses, out, stem, args)
    for path in written:
        print(f"wrote {path}")
    return 0


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
        if importlib.util.find_spec("archspec.backends.onnx_export") is None:
            return "ONNX export is not built yet"
    if kind in ("svg", "png", "pdf"):
        if importlib.util.find_spec("archspec.backends.diagram") is None:
            return "the diagram backend is not built yet"
        from archspec.backends.diagram import dot_problem

        return dot_problem()
    if kind in ("dot", "mmd") and importlib.util.find_spec("archspec.backends.diagram") is None:
        return "the diagram backend is not built yet"
    return None


def _stem(name: str) -> str:
    clean = "".join(c if c.isalnum() or c in "_-" else "_" for c in name)
    return clean.strip("._") or "model"


def _txt(analyses: list[Analysis], out: Path, stem: str, args: argparse.Namespace) -> list[Path]:
    from archspec.io import write_text
    from archspec.report import summary_text

    text = "\n\n".join(summary_text(a) for a in analyses) + "\n"
    return [write_text(out / f"{stem}.summary.txt", text)]


def _json(analyses: list[Analysis], out: Path, stem: str, args: argparse.Namespace) -> list[Path]:
    from archspec.io import write_text
    from archspec.report import to_json

    return [write_text(out / f"{stem}.summary.json", json.dumps(to_json(analyses), indent=2) + "\n")]


def _py(analyses: list[Analysis], out: Path, stem: str, args: argparse.Namespace) -> list[Path]:
    from archspec.backends.pysrc import emit
    from archspec.io import write_text

    return [write_text(out / f"{stem}.py", emit(analyses))]


def _onnx(analyses: list[Analysis], out: Path, stem: str, args: argparse.Namespace) -> list[Path]:
    from archspec.backends.onnx_export import export_analysis

    paths = []
    for a in analyses:
        name = stem if len(analyses) == 1 else f"{stem}.{a.model}"
        report = export_analysis(
            a,
            out / f"{name}.onnx",
            opset=args.opset,
            atol=args.atol,
            external_data=args.external_data,
            progress=not args.quiet and sys.stderr.isatty(),
        )
        print(report.describe())
        paths.extend(report.paths)
    return paths


def _diagram(kind: str) -> Callable[[list[Analysis], Path, str, argparse.Namespace], list[Path]]:
    def write(analyses: list[Analysis], out: Path, stem: str, args: argparse.Namespace) -> list[Path]:
        from archspec.backends.diagram import render

        return [render(analyses, out / f"{stem}.{kind}", depth=args.depth, direction=args.direction)]

    return write


_EMITTERS: dict[str, Callable[[list[Analysis], Path, str, argparse.Namespace], list[Path]]] = {
    "txt": _txt,
    "json": _json,
    "py": _py,
    "onnx": _onnx,
    **{k: _diagram(k) for k in DIAGRAMS},
}
