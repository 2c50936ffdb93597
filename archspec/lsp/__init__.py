"""``archspec lsp``: a language server for spec files (over stdio; needs ``archspec[lsp]``).

It publishes archspec's own errors as the user types (several at once where they are
independent: ``archspec.lsp.collect``), shows a node's shapes, parameters and MACs on hover,
completes layer types, settings, node names, blocks and vars, and goes to definitions. Static
analysis only: torch is never imported. Importing this package imports nothing heavy; the
server itself is in ``archspec.lsp.server`` (pygls).
"""

from __future__ import annotations

import argparse

from archspec.errors import ArchspecError

__all__ = ["add_lsp_command"]


def add_lsp_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Register ``archspec lsp [--stdio]``."""
    help_ = "run the language server (LSP over stdio) for editors"
    c: argparse.ArgumentParser = subparsers.add_parser("lsp", help=help_, description=help_)
    c.add_argument(
        "--stdio", action="store_true", help="talk over stdin/stdout (the default and only transport)"
    )
    c.set_defaults(func=run_lsp)
    return c


def run_lsp(args: argparse.Namespace) -> int:
    try:
        import pygls  # noqa: F401
    except ImportError:
        raise ArchspecError(
            "missing-dependency",
            "the language server needs pygls",
            hint="pip install 'archspec[lsp]'",
        ) from None
    from archspec.lsp.server import serve

    serve()
    return 0
