"""Elaboration: a validated spec becomes the typed IR graph of one model.

Blocks are instantiated with their arguments, repeats unrolled, model calls expanded and
``$expressions`` evaluated; every node is typed as it is made (its layer's shape rule), so a
setting can read an inferred dim (``$input.shape[1]``). References are resolved and checked
here; whole-graph checks (unused nodes) and counts are passes (``archspec.passes``).
"""

from __future__ import annotations

from typing import Any

from archspec.errors import ArchspecError, Loc, did_you_mean
from archspec.ir import args as block_args
from archspec.ir.budget import MAX_NODES
from archspec.ir.graph import Graph, GraphNode, InputNode, LayerNode, Node, split_ref
from archspec.ir.inputs import LayoutWatch, channels_first, input_node
from archspec.ir.order import assign_names, dependencies, elaboration_order
from archspec.ir.refs import arity, check_ref
from archspec.ir.typing import bind, check_size, layer_outputs
from archspec.layers import registry
from archspec.shapes import TensorType
from archspec.spec import expr
from archspec.spec.entries import EVALUATED, Entry, read_entries
from archspec.spec.loader import PathKey
from archspec.spec.model import EntryFields
from archspec.spec.validate import validate

MAX_NESTING = 32


class Elaborator:
    """Builds the typed IR graphs of a spec's models (one instance counts every node it makes
    against the spec's node budget)."""

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.src = spec.source
        self.layers = registry()
        self.count = 0
        self._read: dict[PathKey, list[Entry]] = {}
        self.layouts = LayoutWatch()

    # models and blocks ---------------------------------------------------------------

    def model(
        self, name: str, prefix: str = "", stack: tuple[str, ...] = (), given: list[TensorType] | None = None
    ) -> Graph:
        m = self.spec.models[name]
        base = self.spec.model_path(name)
        graph = Graph(name, "model", prefix, loc=self.src.loc(base), doc=m.doc, seed=m.seed)
        scope = self.spec.scope(name)
        for i, (inp, decl) in enumerate(m.inputs.items()):
            path = (*base, "inputs", inp)
            node = input_node(inp, decl, path, prefix, self.src, lambda v, p: self._sub(v, scope, p))
            if given is not None:
                node.fed = bind(node, given[i])
                node.outs = {"out": channels_first(node, node.fed)}
            graph.nodes[inp] = node
            graph.inputs.append(inp)
        self.layouts.enter([n for n in graph.nodes.values() if isinstance(n, InputNode)])
        try:
            self._body(graph, m.layers, m.outputs, (*base, "layers"), scope, (*stack, name))
        except ArchspecError as err:
            raise self.layouts.explain(err) from None
        finally:
            self.layouts.leave()
        return graph

    def _block(
        self,
        name: str,
        args: dict[str, Any],
        node: GraphNode,
        stack: tuple[str, ...],
        given: list[TensorType],
    ) -> Graph:
        b = self.spec.blocks[name]
        graph = Graph(name, "block", node.path, loc=node.loc, doc=b.doc, args=args)
        for inp, t in zip(b.inputs, given, strict=True):  # input names are checked by spec.load
            graph.nodes[inp] = InputNode(inp, _join(node.path, inp), loc=node.loc, outs={"out": t})
            graph.inputs.append(inp)
        scope = {**self.spec.vars, **args}
        self._body(graph, b.layers, b.outputs, ("blocks", name, "layers"), scope, (*stack, name))
        return graph

    # the body of a graph ---------------------------------------------------------------

    def _body(
        self,
        graph: Graph,
        raw_layers: list[Any],
        outputs: str | list[str] | None,
        path: PathKey,
        scope: dict[str, Any],
        stack: tuple[str, ...],
    ) -> None:
        if len(stack) > MAX_NESTING:
            raise ArchspecError(
                "limit", f"blocks are nested more than {MAX_NESTING} deep", loc=self.src.loc(path)
            )
        entries = [e for e in self._entries(raw_layers, path) if self._included(e, scope)]
        if not entries:
            raise ArchspecError("schema", "`layers` is empty", loc=self.src.loc(path))
        names = assign_names(entries, graph.inputs, self.src.value_loc)
        default = graph.inputs[0] if len(graph.inputs) == 1 else None
        refs, deps = [], []
        for i, e in enumerate(entries):
            refs.append(self._refs(e, scope))
            deps.append(dependencies(e, refs[-1], names[i - 1] if i else default))
        locs = [e.loc for e in entries]
        for i in elaboration_order(names, deps, graph.inputs, locs, graph.prefix):
            prev = names[i - 1] if i else default
            node = self._node(graph, entries[i], names[i], refs[i], prev, scope, stack)
            graph.nodes[node.name] = node
        graph.outputs = self._outputs(graph, outputs, names[-1], path)

    def _entries(self, raw_layers: list[Any], path: PathKey) -> list[Entry]:
        """The entries of a `layers:` list, read once however often a block is instantiated."""
        if path not in self._read:
            self._read[path] = read_entries(raw_layers, path, self.src, self._is_type, self._all_types())
        return self._read[path]

    def _included(self, e: Entry, scope: dict[str, Any]) -> bool:
        if "when" not in e.fields:
            return True
        when = self._sub(e.fields["when"], scope, (*e.path, "when"))
        checked: EntryFields = validate(EntryFields, {"when": when}, self.src, e.path, what="a layer entry")
        return bool(checked.when)

    def _value_lists_inputs(self, e: Entry) -> bool:
        """A merge layer takes its inputs as its value: `add: [a, b]`."""
        layer = self.layers.get(e.key)
        return (
            isinstance(e.value, list)
            and layer is not None
            and (layer.max_inputs is None or layer.max_inputs > 1)
        )

    def _refs(self, e: Entry, scope: dict[str, Any]) -> list[str] | None:
        given = e.fields.get("inputs")
        given = self._sub(given, scope, (*e.path, "inputs")) if given is not None else None
        if self._value_lists_inputs(e):
            if given is not None:
                raise ArchspecError(
                    "schema", f"'{e.key}' lists its inputs twice (as its value and in `inputs`)", loc=e.loc
                )
            given = e.value
        if given is None:
            return None
        names = [given] if isinstance(given, str) else given
        if not isinstance(names, list) or not all(isinstance(r, str) for r in names):
            raise ArchspecError("schema", f"an input reference must be a name, got {given!r}", loc=e.loc)
        return list(names)

    def _fields(self, e: Entry, scope: dict[str, Any]) -> EntryFields:
        common = {k: v for k, v in e.fields.items() if k not in ("when", "inputs")}
        for k in EVALUATED:
            if k in common:
                common[k] = self._sub(common[k], scope, (*e.path, k))
        fields: EntryFields = validate(EntryFields, common, self.src, e.path, what="a layer entry")
        return fields

    # nodes --------------------------------------------------------------------------------

    def tick(self, loc: Loc | None) -> None:
        """Count one more node (of every model this elaborator builds) against the budget."""
        self.count += 1
        if self.count > MAX_NODES:
            raise ArchspecError("limit", f"the spec expands to more than {MAX_NODES:,} nodes", loc=loc)

    def _node(
        self,
        graph: Graph,
        e: Entry,
        name: str,
        refs: list[str] | None,
        prev: str | None,
        scope: dict[str, Any],
        stack: tuple[str, ...],
    ) -> Node:
        self.tick(e.loc)
        path = _join(graph.prefix, name)
        kind = self._kind(e.key)
        if kind is None:
            raise ArchspecError(
                "unknown-layer",
                f"unknown layer type '{e.key}'",
                loc=e.loc,
                hint=did_you_mean(e.key, self._all_types())
                or "run `archspec layers` for the layer types, or define a block or model by that name",
            )
        fields = self._fields(e, scope)
        inputs = self._resolve(graph, e, refs, prev, path)
        xs = [graph.type_of(r) for r in inputs]
        value = None if self._value_lists_inputs(e) else e.value
        if fields.repeat is not None:
            from archspec.ir.repeat import repeat_node

            node: Node = repeat_node(self, graph, e, kind, value, fields, inputs, xs, path, scope, stack)
        else:
            node = self.make(
                graph, e, kind, self._value(value, e, scope, graph), name, path, inputs, xs, stack
            )
        node.doc = fields.doc
        node.trainable = fields.trainable
        if isinstance(node, LayerNode):
            node.init, node.tie, node.regularizer = fields.init, fields.tie, fields.regularizer
        return node

    def _value(self, value: Any, e: Entry, scope: dict[str, Any], graph: Graph) -> Any:
        """The type key's value with its expressions evaluated (``x.shape[i]`` reads ``graph``)."""

        def shapes(name: str) -> tuple[Any, ...] | None:
            node = graph.nodes.get(name)
            return node.out.shape if node is not None else None

        return self._sub(value, scope, (*e.path, e.key), shapes)

    def make(
        self,
        graph: Graph,
        e: Entry,
        kind: str,
        value: Any,
        name: str,
        path: str,
        inputs: list[str],
        xs: list[TensorType],
        stack: tuple[str, ...],
    ) -> Node:
        """A layer node, block instance or model call of type ``e.key``, typed."""
        if kind == "layer":
            layer_type = self.layers[e.key]
            params = self._params(layer_type, value, e, path)
            node: Node = LayerNode(name, path, e.loc, inputs, xs, layer_type=layer_type, settings=params)
            arity(node, layer_type.min_inputs, layer_type.max_inputs)
            self.layouts.read(layer_type.family, e.key, path, xs)
            node.outs = layer_outputs(graph, node, xs)  # type: ignore[arg-type]
            return node
        if e.key in stack:
            raise ArchspecError(
                "block-recursion",
                f"{kind} '{e.key}' uses itself ({' -> '.join([*stack, e.key])})",
                loc=e.loc,
                node=path,
            )
        gnode = GraphNode(
            name, path, e.loc, inputs, xs, of=e.key, kind="block" if kind == "block" else "model"
        )
        if kind == "block":
            decl = self.spec.blocks[e.key]
            arity(gnode, len(decl.inputs), len(decl.inputs), decl.inputs, _inputs_hint(e.key, decl, xs))
            gnode.args = self._args(e, value, path)
            gnode.graph = self._block(e.key, gnode.args, gnode, stack, xs)
        else:
            if value not in (None, {}):
                raise ArchspecError("schema", f"model '{e.key}' takes no arguments", loc=e.loc, node=path)
            called = self.spec.models[e.key]
            arity(gnode, len(called.inputs), len(called.inputs), list(called.inputs))
            gnode.graph = self.model(e.key, path, stack, given=xs)
        gnode.outs = graph_outputs(gnode)
        return gnode

    def _params(self, layer: Any, value: Any, e: Entry, node: str) -> Any:
        if value is None:
            data: Any = {}
        elif isinstance(value, dict):
            data = value
        elif layer.primary is not None:
            data = {layer.primary: value}
        else:
            raise ArchspecError(
                "schema",
                f"'{e.key}' takes no shorthand value",
                loc=self.src.value_loc((*e.path, e.key)),
                node=node,
                got=repr(value),
                hint=f"write `{e.key}: {{...}}` with named settings, or just `{e.key}`",
            )
        path = (*e.path, e.key) if isinstance(value, dict) else e.path
        return validate(layer.Params, data, self.src, path, node=node, what=f"'{e.key}'")

    def _args(self, e: Entry, value: Any, node: str) -> dict[str, Any]:
        decl = self.spec.blocks[e.key].args
        given = block_args.given_args(e.key, decl, value, e.loc, node)
        model = block_args.args_model(e.key, decl)
        path = (*e.path, e.key) if isinstance(value, dict) else e.path
        checked = dict(validate(model, given, self.src, path, node=node, what=f"block '{e.key}'"))
        return {k: checked[k] for k in [*given, *checked]}  # as written, then the defaults

    def _resolve(
        self, graph: Graph, e: Entry, refs: list[str] | None, prev: str | None, path: str
    ) -> list[str]:
        layer = self.layers.get(e.key)
        if refs is None and layer is not None and layer.max_inputs == 0:
            return []  # a tensor node (parameter, buffer) takes nothing
        if refs is None:
            if prev is None:
                raise ArchspecError(
                    "arity",
                    f"the first layer of a graph with inputs {graph.inputs} must say which it takes",
                    loc=e.loc,
                    node=path,
                    hint="add `inputs: [" + ", ".join(graph.inputs) + "]` (or the one it needs)",
                )
            refs = [prev]
        for ref in refs:
            check_ref(graph, ref, e.loc, path)
        return refs

    def _outputs(self, graph: Graph, outputs: Any, last: str, path: PathKey) -> list[str]:
        refs = [outputs] if isinstance(outputs, str) else list(outputs or [last])
        out_path = (*path[:-1], "outputs")
        seen: set[str] = set()
        for ref in refs:
            if not isinstance(ref, str):
                raise ArchspecError("schema", f"an output is a name, got {ref!r}", loc=self.src.loc(out_path))
            check_ref(graph, ref, self.src.value_loc(out_path), None, what="output")
            node, output = split_ref(ref)
            if (output or node) in seen:
                raise ArchspecError(
                    "duplicate-name",
                    f"two outputs are called '{output or node}'",
                    loc=self.src.value_loc(out_path),
                    hint="list each output once; name a node to give a named output its own name",
                )
            seen.add(output or node)
        return refs

    # helpers -----------------------------------------------------------------------------

    def _is_type(self, key: str) -> bool:
        return self._kind(key) is not None

    def _kind(self, key: str) -> str | None:
        if key in self.layers:
            return "layer"
        if key in self.spec.blocks:
            return "block"
        if key in self.spec.models:
            return "model"
        return None

    def _all_types(self) -> list[str]:
        return [*self.layers, *self.spec.blocks, *self.spec.models]

    def _sub(self, value: Any, scope: dict[str, Any], path: PathKey, shapes: Any = None) -> Any:
        """Replace ``$expressions`` in ``value`` with their values."""
        try:
            return expr.substitute(value, scope, shapes)
        except expr.ExprError as e:
            raise ArchspecError(
                "expression", str(e), loc=self.src.value_loc((*path, *e.where)), hint=_scope_hint(scope)
            ) from None

    def args_for_count(self, block: str, value: Any) -> dict[str, Any]:
        """The arguments with defaults filled in, unchecked (for the static node budget)."""
        decl = self.spec.blocks[block].args
        given = block_args.given_args(block, decl, value, None, None)
        return {k: given.get(k, d) for k, d in decl.items()}


def graph_outputs(node: GraphNode) -> dict[str, TensorType]:
    """A block instance's or model call's outputs, named as its graph names them."""
    return node.graph.output_types


def _inputs_hint(block: str, decl: Any, given: list[Any]) -> str:
    """How a block comes to take as many inputs as it is given."""
    if len(given) > len(decl.inputs):
        names = ", ".join(f"x{i}" for i in range(1, len(given) + 1))
        return (
            f"block '{block}' declares its inputs as [{', '.join(decl.inputs)}]"
            + (" (the default)" if list(decl.inputs) == ["input"] else "")
            + f"; to take {len(given)}, list them in the block: `inputs: [{names}]`"
        )
    return f"give block '{block}' one input per name it declares: [{', '.join(decl.inputs)}]"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _scope_hint(scope: dict[str, Any]) -> str | None:
    names = sorted(k for k in scope if not k.startswith("_"))
    return "names in scope: " + ", ".join(names) if names else None


__all__ = ["Elaborator", "check_size"]
