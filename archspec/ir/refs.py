"""References between nodes (``name`` or ``name.output``) and the number of inputs a node takes."""

from __future__ import annotations

from archspec.errors import ArchspecError, Loc, did_you_mean
from archspec.ir.graph import Graph, Node, split_ref


def check_ref(graph: Graph, ref: str, loc: Loc | None, path: str | None, what: str = "input") -> None:
    """A reference names a node of this graph and, after a dot, one of its outputs."""
    name, output = split_ref(ref)
    if name not in graph.nodes:
        raise ArchspecError(
            "undefined-reference",
            f"{what} '{ref}' is not "
            + ("a node of this graph" if what == "output" else "defined in this graph"),
            loc=loc,
            node=path,
            hint=did_you_mean(name, list(graph.nodes))
            or "inputs refer to nodes (or inputs) of the same model or block",
        )
    outs = graph.nodes[name].outs
    if output is not None and output not in outs:
        raise ArchspecError(
            "undefined-reference",
            f"'{name}' has no output '{output}'",
            loc=loc,
            node=path,
            hint=f"its outputs: {', '.join(outs)}"
            if len(outs) > 1
            else f"'{name}' has one output: write '{name}'",
        )


def arity(
    node: Node, lo: int, hi: int | None, declared: list[str] | None = None, hint: str | None = None
) -> None:
    """The node has between ``lo`` and ``hi`` inputs (a block or model names them: ``declared``)."""
    n = len(node.inputs)
    if n < lo or (hi is not None and n > hi):
        want = str(lo) if lo == hi else f"{lo} or more" if hi is None else f"{lo} to {hi}"
        names = f" ({', '.join(declared)})" if declared else ""
        raise ArchspecError(
            "arity",
            f"'{node.type}' takes {want} input{'s' if want != '1' else ''}{names}, got {n}",
            loc=node.loc,
            node=node.path,
            expected=want + names,
            got=str(n) + (f" ({', '.join(node.inputs)})" if node.inputs else ""),
            hint=hint,
        )
