"""``repeat: N``: N copies of an entry, chained, named ``0 .. N-1``.

Copy 0 takes the entry's inputs. Each later copy takes the previous copy's outputs in place of
the first inputs, and the remaining inputs unchanged: a decoder layer fed ``[x, memory]`` that
returns ``x`` gets the new ``x`` and the same ``memory`` each time; a recurrent cell returning
``(x, h, c)`` from ``(x, h, c)`` is chained whole. ``index`` (0, 1, ...) is in each copy's scope.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from archspec.errors import ArchspecError
from archspec.ir.budget import MAX_REPEAT
from archspec.ir.graph import Graph, GraphNode, InputNode, LayerNode
from archspec.shapes import TensorType
from archspec.spec.entries import Entry
from archspec.spec.model import EntryFields
from archspec.spec.names import name_problem

if TYPE_CHECKING:
    from archspec.ir.expand import Elaborator


def repeat_node(
    el: Elaborator,
    graph: Graph,
    e: Entry,
    kind: str,
    value: Any,
    fields: EntryFields,
    inputs: list[str],
    xs: list[TensorType],
    path: str,
    scope: dict[str, Any],
    stack: tuple[str, ...],
) -> GraphNode:
    n = fields.repeat
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= MAX_REPEAT:
        raise ArchspecError(
            "limit" if isinstance(n, int) and n > MAX_REPEAT else "bad-value",
            f"repeat must be an integer in [0, {MAX_REPEAT}]",
            loc=el.src.value_loc((*e.path, "repeat")),
            node=path,
            got=repr(n),
        )
    sub = Graph(e.key, "repeat", path, loc=e.loc)
    names = ["input", *(f"input_{i}" for i in range(1, len(inputs)))]
    for name, t in zip(names, xs, strict=True):
        sub.nodes[name] = InputNode(name, f"{path}.{name}", loc=e.loc, outs={"out": t})
        sub.inputs.append(name)
    feed = list(names)
    for i in range(n):
        el.tick(e.loc)
        ivalue = el._value(value, e, {**scope, "index": i}, graph)
        xs_i = [sub.type_of(r) for r in feed]
        copy = _copy_name(el, e, fields.copies, i, path)
        child = el.make(sub, e, kind, ivalue, copy, f"{path}.{copy}", list(feed), xs_i, stack)
        child.trainable = fields.trainable
        if isinstance(child, LayerNode):
            child.init, child.regularizer = fields.init, fields.regularizer
        sub.nodes[child.name] = child
        outs = [child.name] if len(child.outs) == 1 else [f"{child.name}.{o}" for o in child.outs]
        if i + 1 < n and len(outs) > len(feed):
            raise ArchspecError(
                "arity",
                f"a repeated '{e.key}' returns {len(outs)} outputs but takes {len(feed)} inputs",
                loc=e.loc,
                node=path,
                hint="each copy's outputs feed the next copy's first inputs",
            )
        feed = outs + feed[len(outs) :] if i + 1 < n else outs
    sub.outputs = feed
    name = path.rpartition(".")[2]  # the entry's own name (`layers`)
    node = GraphNode(name, path, e.loc, inputs, xs, of=e.key, graph=sub, kind="repeat", args={"count": n})
    node.outs = sub.output_types
    return node


def _copy_name(el: Elaborator, e: Entry, pattern: str | None, index: int, path: str) -> str:
    """Copy ``index``'s name: its index, or the entry's `copies:` pattern (``encoder_layer_{index}``)."""
    if pattern is None:
        return str(index)
    name = pattern.replace("{index}", str(index))
    problem = name_problem(name, is_node=True)
    if problem or "{index}" not in pattern or name in ("input",) or name.startswith("input_"):
        raise ArchspecError(
            "bad-name",
            f"`copies: {pattern}` names copy {index} {name!r}: "
            + (problem or "the pattern must contain {index} and not name an input"),
            loc=el.src.value_loc((*e.path, "copies")),
            node=path,
            hint="write a pattern such as encoder_layer_{index}",
        )
    return name
