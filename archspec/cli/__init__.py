"""The ``archspec`` command line. Errors print one message and exit 1; never a traceback."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from archspec.errors import ArchspecError

EXIT_ERROR = 1
EXIT_INTERNAL = 2


def main(argv: Sequence[str] | None = None) -> int:
    # archspec's own models use no pydantic plugins: skip scanning installed packages for them
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from archspec.system import interrupts

    with interrupts.handle_signals():
        try:
            result: int = args.func(args)
            failure: BaseException | None = None
        except BaseException as e:
            result, failure = EXIT_ERROR, e
        interrupts.settle()  # from here on a further signal cannot cut the report short
        signum = interrupts.received()
        if signum is None and isinstance(failure, KeyboardInterrupt):
            signum = signal.SIGINT
        if signum is not None:  # the stack has unwound (staging folders removed): say so, once
            print(f"interrupted by {signal.Signals(signum).name}", file=sys.stderr)
            return 128 + signum
        return result if failure is None else _failed(failure, args)


def _failed(e: BaseException, args: argparse.Namespace) -> int:
    """Report a failure: one message, and the exit status."""
    if isinstance(e, ArchspecError):
        if getattr(args, "json", False):
            print(json.dumps({"error": e.to_dict()}, indent=2))
        print(e.format(), file=sys.stderr)
        return EXIT_ERROR
    if isinstance(e, BrokenPipeError):  # `archspec check ... | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    if isinstance(e, OSError):  # disk full, permission denied...: the environment, not a bug
        where = f" '{e.filename}'" if e.filename else ""
        err = ArchspecError("io", f"cannot write{where}: {e.strerror or e}; existing outputs were kept")
        print(err.format(), file=sys.stderr)
        return EXIT_ERROR
    if not isinstance(e, Exception) or os.environ.get("ARCHSPEC_DEBUG"):
        raise e  # SystemExit and the like are not ours to report; a bug's traceback on request
    print(f"internal error: {type(e).__name__}: {e}", file=sys.stderr)
    print("  hint: this is a bug in archspec; rerun with ARCHSPEC_DEBUG=1 for the traceback", file=sys.stderr)
    return EXIT_INTERNAL


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="archspec",
        description="Check, compile, export and draw neural-network architecture specs.",
    )
    p.add_argument("--version", action="version", version=f"archspec {_version()}")
    sub = p.add_subparsers(metavar="COMMAND")

    c = _command(sub, "check", "validate a spec; print shapes and parameter counts", _check)
    c.add_argument("spec", help="a .yaml or .json spec file")
    _model_args(c)
    c.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    c.add_argument("--depth", type=int, default=None, help="show nodes only this many levels deep")

    c = _command(sub, "compile", "check, then write artifacts (py, onnx, diagrams, summary)", _compile)
    c.add_argument("spec")
    _model_args(c)
    c.add_argument("-o", "--out", default="build", help="output directory (default: build/)")
    c.add_argument(
        "--emit",
        action="append",
        help="artifacts to write, comma-separated: py, onnx, json, txt, svg, png, pdf, dot, mmd "
        "(default: every one whose backend is available)",
    )
    c.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the exporter's)")
    c.add_argument("--atol", type=float, default=None, help="ONNX verification tolerance (default 1e-4)")
    c.add_argument(
        "--external-data", default=None, metavar="NAME", help="ONNX external data file name (>2 GB models)"
    )
    c.add_argument(
        "--weights",
        default=None,
        metavar="FILE",
        help="trained weights for the ONNX file: a safetensors file or torch checkpoint of the state_dict",
    )
    c.add_argument(
        "--onnx-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop the ONNX step after this long (default 300, $ARCHSPEC_ONNX_TIMEOUT; 0 = no limit)",
    )
    c.add_argument(
        "--onnx-max-nodes",
        type=int,
        default=None,
        metavar="N",
        help="refuse to export models of more layer nodes (default 5000, $ARCHSPEC_ONNX_MAX_NODES)",
    )
    c.add_argument("--quiet", action="store_true", help="no summary and no progress")
    c.add_argument("--depth", type=int, default=None, help="diagram depth (1 = collapsed blocks)")
    c.add_argument("--direction", choices=["TB", "LR"], default="TB")

    c = _command(
        sub, "verify", "check an ONNX file against a spec: types, and outputs against torch", _verify
    )
    c.add_argument("spec")
    c.add_argument("file", help="the .onnx file (archspec's, or one exported from a trained model)")
    _model_args(c)
    c.add_argument("--atol", type=float, default=None, help="absolute tolerance (default 1e-4 for float32)")

    c = _command(sub, "render", "draw a spec: .svg .png .pdf .dot .mmd", _render)
    c.add_argument("spec")
    c.add_argument("-o", "--out", required=True, help="output file; the format comes from its suffix")
    _model_args(c)
    c.add_argument(
        "--depth",
        type=int,
        default=None,
        help="1 = each block one node; default: as deep as fits in 60 nodes (99 = everything)",
    )
    c.add_argument("--direction", choices=["TB", "LR"], default="TB")

    c = _command(
        sub, "docs", "write a Markdown gallery (diagram + summary) for every spec in a folder", _docs
    )
    c.add_argument("spec_dir")
    c.add_argument("-o", "--out", default="docs/gallery", help="folder for the diagrams")
    c.add_argument("--page", default=None, help="the Markdown page (default: <out>.md)")

    c = _command(sub, "schema", "print the JSON Schema of spec files", _schema)
    c.add_argument("-o", "--out", default=None, help="write it to this file instead")

    from archspec.backends.diffview import add_diff_command
    from archspec.lsp import add_lsp_command

    add_diff_command(sub)
    add_lsp_command(sub)

    from archspec.cli.plan import add_plan_command

    add_plan_command(sub)

    c = _command(sub, "layers", "list the registered layer types", _layers)
    c.add_argument("--markdown", action="store_true", help="print the full reference (docs/layers.md)")
    return p


def _command(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    help_: str,
    func: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    c: argparse.ArgumentParser = sub.add_parser(name, help=help_, description=help_)
    c.set_defaults(func=func)
    return c


def _model_args(c: argparse.ArgumentParser) -> None:
    c.add_argument("--model", default=None, help="only this model of the spec")
    c.add_argument("--batch", type=int, default=None, help="size of the symbolic dim `batch`")
    c.add_argument(
        "--dim", action="append", default=[], metavar="NAME=SIZE", help="size of a symbolic dim (repeatable)"
    )


def sizes_from(args: argparse.Namespace) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for item in args.dim:
        name, eq, value = item.partition("=")
        if not eq or not name.strip().isidentifier() or not value.strip().isdigit() or int(value) <= 0:
            raise ArchspecError(
                "dim-size", f"--dim expects NAME=SIZE with a positive integer size, got {item!r}"
            )
        sizes[name.strip()] = int(value)
    if args.batch is not None:
        if args.batch <= 0:
            raise ArchspecError("dim-size", f"--batch must be a positive integer, got {args.batch}")
        sizes["batch"] = args.batch
    return sizes


def _depth(args: argparse.Namespace) -> None:
    if getattr(args, "depth", None) is not None and args.depth < 1:
        raise ArchspecError("bad-value", f"--depth must be at least 1, got {args.depth}")


def _analyses(args: argparse.Namespace) -> list:  # type: ignore[type-arg]
    from archspec.pipeline import analyze_all, load

    _depth(args)
    spec = load(Path(args.spec))
    return analyze_all(spec, args.model, sizes_from(args))


def _check(args: argparse.Namespace) -> int:
    from archspec.backends import report

    analyses = _analyses(args)
    if args.json:
        print(json.dumps(report.to_json(analyses), indent=2))
    else:
        print("\n\n".join(report.summary_text(a, args.depth) for a in analyses))
    return 0


def _compile(args: argparse.Namespace) -> int:
    from archspec.cli.compile import compile_spec

    _depth(args)
    return compile_spec(args, sizes_from(args))


def _verify(args: argparse.Namespace) -> int:
    from archspec.cli.compile import verify_file

    return verify_file(args, sizes_from(args))


def _render(args: argparse.Namespace) -> int:
    from archspec.backends.diagram import render

    out = render(_analyses(args), Path(args.out), depth=args.depth, direction=args.direction)
    print(f"wrote {out}")
    return 0


def _docs(args: argparse.Namespace) -> int:
    from archspec.docsgen.gallery import write_gallery

    out = Path(args.out)
    page = Path(args.page) if args.page else out.with_suffix(".md")
    for path in write_gallery(Path(args.spec_dir), page, out):
        print(f"wrote {path}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from archspec.spec.schema import schema_text

    text = schema_text()
    if args.out:
        from archspec.system.io import write_text

        write_text(args.out, text)
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def _layers(args: argparse.Namespace) -> int:
    from archspec.layers import registry

    if args.markdown:
        from archspec.docsgen.reference import layer_reference

        sys.stdout.write(layer_reference())
        return 0
    for name, layer in sorted(registry().items()):
        doc = (layer.__doc__ or "").strip().splitlines()[0] if layer.__doc__ else ""
        print(f"{name:<28} {layer.family:<12} {doc}")
    return 0


def _version() -> str:
    from archspec import __version__

    return __version__
