"""How deep a diagram goes: the default ("auto") draws every level of a model that fits in
``AUTO_NODES`` nodes, and of a bigger one as many levels as fit, saying so in a note."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Union

from archspec.errors import ArchspecError
from archspec.ir.graph import Graph, Node

if TYPE_CHECKING:
    from archspec.passes import Analysis

MAX_DRAWN = 1500  # above this many drawn nodes, draw collapsed (depth 1)
AUTO_NODES = 60  # by default, draw the deepest level that has at most this many nodes
# None or "auto": every level if it draws at most AUTO_NODES nodes, else the deepest level
# that does; "all": every level; N: N levels (1 draws each block, repeat and call as one node)
Depth = Union[int, Literal["auto", "all"], None]


def resolve_depth(
    analyses: list[Analysis], depth: Depth, drawn: set[str], limit: int
) -> tuple[int | None, list[str]]:
    """The levels to draw (None: all) and the notes that say what was left collapsed."""
    number = isinstance(depth, int) and not isinstance(depth, bool)
    if not (depth in (None, "auto", "all") or (number and depth >= 1)):  # type: ignore[operator]
        raise ArchspecError(
            "unsupported",
            f"diagram depth must be 1 or more, 'auto' or 'all', got {depth!r}",
            hint="omit it to draw as deep as fits, or say 'all' to expand everything",
        )

    def size(levels: int | None, cap: int = limit) -> int:
        return sum(count_drawn(a.graph, levels, drawn, cap + 1) for a in analyses)

    full = size(None)
    every = 1 + max(nesting(a.graph, drawn) for a in analyses)  # the depth that shows all
    many = f"more than {limit:,}" if full > limit else f"{full:,}"
    if depth in (None, "auto"):
        if full <= AUTO_NODES:
            return None, []
        chosen = 1
        while chosen + 1 < every and size(chosen + 1, AUTO_NODES) <= AUTO_NODES:
            chosen += 1
        shown = "collapsed (depth 1)" if chosen == 1 else f"to depth {chosen}"
        return chosen, [f"{many} nodes at full depth: drawn {shown}; depth {every} draws every level"]
    levels = depth if isinstance(depth, int) and depth < every else None  # "all", or past the deepest
    if levels != 1 and size(levels) > limit:
        where = "full depth" if levels is None else f"depth {levels}"
        return 1, [f"more than {limit:,} nodes at {where}: drawn collapsed (depth 1)"]
    return levels, []


def nesting(graph: Graph, drawn: set[str], level: int = 0) -> int:
    """How many levels of blocks, repeats and calls ``graph`` holds (0: none)."""
    deepest = 0
    for node in graph.body():
        if node.sub is not None and expand(node, level, None, drawn):
            deepest = max(deepest, 1 + nesting(node.sub, drawn, level + 1))
    return deepest


def count_drawn(graph: Graph, depth: int | None, drawn: set[str], cap: int, level: int = 0) -> int:
    """How many boxes and frames ``graph`` takes at ``depth`` (stops counting past ``cap``)."""
    n = len(graph.inputs) if level == 0 else 0
    for node in graph.body():
        if n > cap:
            break
        if node.sub is not None and expand(node, level, depth, drawn):
            n += len(node.sub.inputs) + count_drawn(node.sub, depth, drawn, cap - n, level + 1)
        else:
            n += 1
    return n


def expand(node: Node, level: int, depth: int | None, drawn: set[str]) -> bool:
    if node.sub is None or (node.kind == "model" and node.type in drawn):
        return False
    return depth is None or level + 1 < depth
