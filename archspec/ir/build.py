"""Expand a validated spec into the IR: blocks, repeats, expressions and model calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from archspec import expr
from archspec.dims import TensorType
from archspec.errors import ArchspecError, Loc, did_you_mean
from archspec.ir.budget import MAX_NODES, MAX_REPEAT
from archspec.ir.graph import Graph, Node
from archspec.ir.names import dim_problem, name_problem
from archspec.layers import registry
from archspec.layers.base import LayerType
from archspec.spec.loader import PathKey, Source
from archspec.spec.model import ENTRY_KEYS, BlockSpec, EntryFields, InputSpec, ModelSpec
from archspec.spec.validate import validate

MAX_NESTING = 32
ARG_TYPES: dict[str, type | tuple[type, ...]] = {"int": int, "float": (int, float), "bool": bool, "str": str}


@dataclass
class _Entry:
    """A layer entry after its type key and common fields are read."""

    key: str
    value: Any
    fields: EntryFields
    path: PathKey
    loc: Loc | None
    name: str = ""


class Expander:
    """Builds the IR graph of one model of a spec."""

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.src: Source = spec.source
        self.blocks: dict[str, BlockSpec] = spec.blocks
        self.models: dict[str, ModelSpec] = spec.models
        self.layers = registry()
        self.count = 0

    # models and blocks ---------------------------------------------------------------

    def model(self, name: str, prefix: str = "", stack: tuple[str, ...] = ()) -> Graph:
        m = self.models[name]
        base = self.spec.model_path(name)
        graph = Graph(name, "model", prefix, loc=self.src.loc(base), doc=m.doc, seed=m.seed)
        for inp, decl in m.inputs.items():
            path = (*base, "inputs", inp)
            problem = name_problem(inp, is_input=True)
            if problem:
                raise ArchspecError("bad-name", f"bad input name '{inp}': {problem}", loc=self.src.loc(path))
            spec = decl if isinstance(decl, InputSpec) else InputSpec(shape=list(decl))
            spec = self._input_dims(spec, path)
            self._check_input(spec, path)
            node = Node(inp, _join(prefix, inp), "input", "input", loc=self.src.loc(path))
            node.input_type = TensorType(tuple(spec.shape), spec.dtype)
            node.high = spec.high
            graph.nodes[inp] = node
            graph.inputs.append(inp)
        self._body(graph, m.layers, m.outputs, (*base, "layers"), dict(self.spec.vars), (*stack, name))
        return graph

    def _input_dims(self, spec: InputSpec, path: PathKey) -> InputSpec:
        """Evaluate `$expressions` among the input's dims (``[batch, $features]``)."""
        if not any(isinstance(d, str) and d.startswith("$") for d in spec.shape):
            return spec
        raw_path = path if isinstance(self._raw(path), list) else (*path, "shape")
        dims = [self._sub(d, dict(self.spec.vars), (*raw_path, i)) for i, d in enumerate(spec.shape)]
        for i, d in enumerate(dims):
            if not isinstance(d, (int, str)) or isinstance(d, bool):
                raise ArchspecError(
                    "schema",
                    f"input dimension {spec.shape[i]!r} must be an integer, got {d!r}",
                    loc=self.src.value_loc((*raw_path, i)),
                )
        return spec.model_copy(update={"shape": dims})

    def _raw(self, path: PathKey) -> Any:
        cur: Any = self.src.data
        for part in path:
            if isinstance(cur, dict):
                cur = cur.get(part)
            elif isinstance(cur, list) and isinstance(part, int):
                cur = cur[part]
            else:
                return None
        return cur

    def _check_input(self, spec: InputSpec, path: PathKey) -> None:
        for i, d in enumerate(spec.shape):
            loc = self.src.value_loc((*path, i)) or self.src.value_loc((*path, "shape", i))
            if isinstance(d, int) and d <= 0:
                raise ArchspecError(
                    "schema", f"input dimension {d!r} must be a positive integer or a symbolic name", loc=loc
                )
            problem = dim_problem(d) if isinstance(d, str) else None
            if problem:
                raise ArchspecError("bad-name", f"bad symbolic dimension {d!r}: {problem}", loc=loc)
        if spec.high is not None and spec.high <= 0:
            raise ArchspecError(
                "bad-value",
                f"`high` must be a positive integer (ids are drawn from [0, high)), got {spec.high}",
                loc=self.src.value_loc((*path, "high")),
            )

    def _block(
        self, name: str, args: dict[str, Any], prefix: str, stack: tuple[str, ...], loc: Loc | None
    ) -> Graph:
        b = self.blocks[name]
        graph = Graph(name, "block", prefix, loc=loc, doc=b.doc, args=args)
        for inp in b.inputs:  # names checked by spec.load
            graph.nodes[inp] = Node(inp, _join(prefix, inp), "input", "input", loc=loc)
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
        entries = [e for i, raw in enumerate(raw_layers) if (e := self._entry(raw, (*path, i), scope))]
        self._name_entries(graph, entries)
        prev = graph.inputs[0] if len(graph.inputs) == 1 else None
        for e in entries:
            node = self._node(graph, e, prev, scope, stack)
            graph.nodes[node.name] = node
            prev = node.name
        if not entries:
            raise ArchspecError("schema", "`layers` is empty", loc=self.src.loc(path))
        graph.outputs = self._outputs(graph, outputs, prev, path)
        _order(graph, self.src)

    def _entry(self, raw: Any, path: PathKey, scope: dict[str, Any]) -> _Entry | None:
        loc = self.src.loc(path)
        if isinstance(raw, str):
            key = self._sub(raw, scope, path) if raw.startswith("$") else raw
            if not isinstance(key, str):
                raise ArchspecError("schema", f"layer entry {raw!r} is not a layer name", loc=loc)
            return _Entry(key, None, EntryFields(), path, loc)
        if not isinstance(raw, dict):
            raise ArchspecError(
                "schema",
                f"a layer entry must be a name or a mapping, not {type(raw).__name__}",
                loc=loc,
                hint="write `- relu` or `- {linear: 64}`",
            )
        keys = [k for k in raw if k not in ENTRY_KEYS]
        if len(keys) != 1:
            return self._bad_keys(raw, keys, path)
        key = keys[0]
        common = {k: v for k, v in raw.items() if k != key}
        for k in ("inputs", "trainable", "init", "repeat", "when", "tie", "regularizer"):
            if k in common:
                common[k] = self._sub(common[k], scope, (*path, k))
        fields = validate(EntryFields, common, self.src, path, what="a layer entry")
        if fields.when is not None and not fields.when:
            return None
        # the value is substituted later: a repeat evaluates it once per `index`
        return _Entry(key, raw[key], fields, path, self.src.loc((*path, key)) or loc)

    def _bad_keys(self, raw: dict[str, Any], keys: list[str], path: PathKey) -> NoReturn:
        if not keys:
            raise ArchspecError(
                "schema",
                "this layer entry has no layer type",
                loc=self.src.loc(path),
                hint="add a type key such as `linear: 64`, or the name of a block",
            )
        known = [k for k in keys if self._kind(k)]
        unknown = [k for k in keys if not self._kind(k)]
        bad = unknown[0] if unknown else keys[1]
        hint = did_you_mean(bad, ENTRY_KEYS) if unknown else None
        if known and unknown:
            msg = f"unknown field '{bad}' beside layer type '{known[0]}'"
            code = "unknown-field"
        elif unknown:
            msg, code = f"unknown layer type '{bad}'", "unknown-layer"
            hint = hint or did_you_mean(bad, self._all_types())
        else:
            msg, code = f"a layer entry has two types, '{keys[0]}' and '{keys[1]}'", "schema"
            hint = "write each layer as its own list item"
        raise ArchspecError(code, msg, loc=self.src.loc((*path, bad)), hint=hint)

    def _kind(self, key: str) -> str | None:
        if key in self.layers:
            return "layer"
        if key in self.blocks:
            return "block"
        if key in self.models:
            return "model"
        return None

    def _all_types(self) -> list[str]:
        return [*self.layers, *self.blocks, *self.models]

    def _sub(self, value: Any, scope: dict[str, Any], path: PathKey) -> Any:
        """Replace ``$expressions`` in ``value`` with their values."""
        if isinstance(value, str) and value.startswith("$"):
            if value.startswith("$$"):
                return value[1:]
            text = value[1:]
            if text.startswith("{") and text.endswith("}"):
                text = text[1:-1]
            try:
                return expr.evaluate(text, scope)
            except expr.ExprError as e:
                raise ArchspecError(
                    "expression",
                    str(e),
                    loc=self.src.value_loc(path),
                    hint=_scope_hint(scope),
                ) from None
        if isinstance(value, list):
            return [self._sub(v, scope, (*path, i)) for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {k: self._sub(v, scope, (*path, k)) for k, v in value.items()}
        return value

    def _name_entries(self, graph: Graph, entries: list[_Entry]) -> None:
        taken: dict[str, Loc | None] = {n: None for n in graph.inputs}
        for e in entries:
            if e.fields.name is None:
                continue
            problem = name_problem(e.fields.name)
            if problem:
                raise ArchspecError(
                    "bad-name",
                    f"bad node name {e.fields.name!r}: {problem}",
                    loc=self.src.value_loc((*e.path, "name")),
                )
            if e.fields.name in taken:
                raise ArchspecError(
                    "duplicate-name",
                    f"the name '{e.fields.name}' is used twice in one graph",
                    loc=self.src.value_loc((*e.path, "name")),
                    hint="node names must be unique within a model or block",
                )
            taken[e.fields.name] = e.loc
            e.name = e.fields.name
        counters: dict[str, int] = {}
        for e in entries:
            if e.name:
                continue
            base = e.key if e.key[-1:].isalpha() else e.key + "_"
            n = counters.get(base, 0) + 1
            while f"{base}{n}" in taken:
                n += 1
            counters[base] = n
            e.name = f"{base}{n}"
            taken[e.name] = e.loc

    def _tick(self, loc: Loc | None) -> None:
        """Count one more node (of every model this expander builds) against the budget."""
        self.count += 1
        if self.count > MAX_NODES:
            raise ArchspecError("limit", f"the spec expands to more than {MAX_NODES:,} nodes", loc=loc)

    def _node(
        self, graph: Graph, e: _Entry, prev: str | None, scope: dict[str, Any], stack: tuple[str, ...]
    ) -> Node:
        self._tick(e.loc)
        kind = self._kind(e.key)
        if kind is None:
            raise ArchspecError(
                "unknown-layer",
                f"unknown layer type '{e.key}'",
                loc=e.loc,
                hint=did_you_mean(e.key, self._all_types())
                or "run `archspec layers` for the layer types, or define a block or model by that name",
            )
        path = _join(graph.prefix, e.name)
        value = e.value if e.fields.repeat is not None else self._sub(e.value, scope, (*e.path, e.key))
        inputs_given = e.fields.inputs
        layer = self.layers.get(e.key)
        if isinstance(value, list) and layer is not None and layer.max_inputs != 1:
            if inputs_given is not None:
                raise ArchspecError(
                    "schema", f"'{e.key}' lists its inputs twice (as its value and in `inputs`)", loc=e.loc
                )
            inputs_given, value = value, None
        inputs = self._inputs(graph, e, inputs_given, prev, path)
        node = Node(e.name, path, "layer", e.key, inputs=inputs, loc=e.loc)
        node.trainable = e.fields.trainable
        node.init, node.tie, node.regularizer = e.fields.init, e.fields.tie, e.fields.regularizer
        node.doc = e.fields.doc
        if e.fields.repeat is not None:
            return self._repeat(node, e, kind, value, scope, stack)
        self._fill(node, e, kind, value, stack)
        return node

    def _fill(self, node: Node, e: _Entry, kind: str, value: Any, stack: tuple[str, ...]) -> None:
        """Make ``node`` a layer, block instance or model call of type ``e.key``."""
        if kind == "layer":
            layer_type = self.layers[e.key]
            node.layer = layer_type
            node.params = self._params(layer_type, value, e, node.path)
            self._arity(node, layer_type.min_inputs, layer_type.max_inputs)
        elif kind == "block":
            if e.key in stack:
                raise ArchspecError(
                    "block-recursion",
                    f"block '{e.key}' uses itself ({' -> '.join([*stack, e.key])})",
                    loc=e.loc,
                    node=node.path,
                )
            node.kind, node.args = "block", self._args(e, value, node.path)
            node.sub = self._block(e.key, node.args, node.path, stack, e.loc)
            self._arity(node, len(node.sub.inputs), len(node.sub.inputs))
        else:
            if e.key in stack:
                raise ArchspecError(
                    "block-recursion",
                    f"model '{e.key}' uses itself ({' -> '.join([*stack, e.key])})",
                    loc=e.loc,
                    node=node.path,
                )
            if value not in (None, {}):
                raise ArchspecError(
                    "schema", f"model '{e.key}' takes no arguments", loc=e.loc, node=node.path
                )
            node.kind = "model"
            node.sub = self.model(e.key, node.path, stack)
            self._arity(node, len(node.sub.inputs), len(node.sub.inputs))

    def _repeat(
        self, node: Node, e: _Entry, kind: str, value: Any, scope: dict[str, Any], stack: tuple[str, ...]
    ) -> Node:
        n = e.fields.repeat
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= MAX_REPEAT:
            raise ArchspecError(
                "limit" if isinstance(n, int) and n > MAX_REPEAT else "bad-value",
                f"repeat must be an integer in [0, {MAX_REPEAT}]",
                loc=self.src.value_loc((*e.path, "repeat")),
                node=node.path,
                got=repr(n),
            )
        self._arity(node, 1, 1)
        sub = Graph(e.key, "repeat", node.path, loc=e.loc)
        sub.nodes["input"] = Node("input", _join(node.path, "input"), "input", "input", loc=e.loc)
        sub.inputs = ["input"]
        prev = "input"
        for i in range(n):
            self._tick(e.loc)
            ivalue = self._sub(value, {**scope, "index": i}, (*e.path, e.key))
            child = Node(str(i), _join(node.path, str(i)), "layer", e.key, inputs=[prev], loc=e.loc)
            child.trainable, child.init, child.regularizer = node.trainable, node.init, node.regularizer
            self._fill(child, e, kind, ivalue, stack)
            sub.nodes[child.name] = child
            prev = child.name
        sub.outputs = [prev]
        node.kind, node.sub = "repeat", sub
        node.args = {"count": n}
        return node

    def _params(self, layer: type[LayerType], value: Any, e: _Entry, node: str) -> Any:
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

    def _given_args(self, block: str, value: Any, loc: Loc | None, node: str | None) -> dict[str, Any]:
        """The arguments written at a block instance (a mapping, or the shorthand value)."""
        decl = self.blocks[block].args
        required = [k for k, v in decl.items() if isinstance(v, str) and v in ARG_TYPES]
        if value is None:
            return {}
        if isinstance(value, dict):
            return value
        if len(required) == 1 or len(decl) == 1:
            return {(required or list(decl))[0]: value}
        raise ArchspecError(
            "schema",
            f"block '{block}' takes named arguments",
            loc=loc,
            node=node,
            hint="write `" + block + ": {" + ", ".join(f"{k}: ..." for k in decl) + "}`",
        )

    def _args_for_count(self, block: str, value: Any) -> dict[str, Any]:
        """The arguments with defaults filled in, unchecked (for the static node budget)."""
        given = self._given_args(block, value, None, None)
        return {k: given.get(k, d) for k, d in self.blocks[block].args.items()}

    def _args(self, e: _Entry, value: Any, node: str) -> dict[str, Any]:
        decl = self.blocks[e.key].args
        given = self._given_args(e.key, value, e.loc, node)
        out: dict[str, Any] = {}
        for k, v in given.items():
            if k not in decl:
                raise ArchspecError(
                    "unknown-field",
                    f"block '{e.key}' has no argument '{k}'",
                    loc=self.src.loc((*e.path, e.key, k)) or e.loc,
                    node=node,
                    hint=did_you_mean(k, list(decl)) or ("arguments: " + ", ".join(decl) if decl else None),
                )
            out[k] = v
        for k, d in decl.items():
            typ = ARG_TYPES.get(d) if isinstance(d, str) else None
            if typ is None and k in out and not _same_kind(out[k], d):
                raise ArchspecError(
                    "schema",
                    f"argument '{k}' of block '{e.key}' must be {type(d).__name__} like its default",
                    loc=self.src.value_loc((*e.path, e.key, k)) or e.loc,
                    node=node,
                    got=repr(out[k]),
                )
            if k not in out:
                if typ is not None:
                    raise ArchspecError(
                        "schema", f"block '{e.key}' needs argument '{k}' ({d})", loc=e.loc, node=node
                    )
                out[k] = d
            elif typ is not None and (
                not isinstance(out[k], typ) or (isinstance(out[k], bool) and d != "bool")
            ):
                raise ArchspecError(
                    "schema",
                    f"argument '{k}' of block '{e.key}' must be {d}",
                    loc=self.src.value_loc((*e.path, e.key, k)) or e.loc,
                    node=node,
                    got=repr(out[k]),
                )
        return out

    def _inputs(
        self, graph: Graph, e: _Entry, given: str | list[str] | None, prev: str | None, path: str
    ) -> list[str]:
        if given is None:
            if prev is None:
                raise ArchspecError(
                    "arity",
                    f"the first layer of a graph with inputs {graph.inputs} must say which it takes",
                    loc=e.loc,
                    node=path,
                    hint="add `inputs: [" + ", ".join(graph.inputs) + "]` (or the one it needs)",
                )
            return [prev]
        names = [given] if isinstance(given, str) else list(given)
        for ref in names:
            if not isinstance(ref, str):
                raise ArchspecError("schema", f"an input reference must be a name, got {ref!r}", loc=e.loc)
        return names

    def _arity(self, node: Node, lo: int, hi: int | None) -> None:
        n = len(node.inputs)
        if n < lo or (hi is not None and n > hi):
            want = str(lo) if lo == hi else f"{lo} or more" if hi is None else f"{lo} to {hi}"
            raise ArchspecError(
                "arity",
                f"'{node.type}' takes {want} input{'s' if want != '1' else ''}, got {n}",
                loc=node.loc,
                node=node.path,
                expected=want,
                got=str(n) + (f" ({', '.join(node.inputs)})" if node.inputs else ""),
            )

    def _outputs(self, graph: Graph, outputs: Any, last: str | None, path: PathKey) -> list[str]:
        names = [outputs] if isinstance(outputs, str) else list(outputs or ([last] if last else []))
        out_path = (*path[:-1], "outputs")
        for name in names:
            if name not in graph.nodes:
                raise ArchspecError(
                    "undefined-reference",
                    f"output '{name}' is not a node of this graph",
                    loc=self.src.value_loc(out_path),
                    hint=did_you_mean(name, list(graph.nodes)),
                )
        return names


def _order(graph: Graph, src: Source) -> None:
    """Check references and cycles; put the nodes in topological (spec-stable) order."""
    seen: set[str] = set()
    ordered = True  # every reference points backwards in spec order: already topological
    for node in graph.nodes.values():
        for ref in node.inputs:
            if ref not in graph.nodes:
                raise ArchspecError(
                    "undefined-reference",
                    f"input '{ref}' is not defined in this graph",
                    loc=node.loc,
                    node=node.path,
                    hint=did_you_mean(ref, list(graph.nodes))
                    or "inputs refer to nodes (or inputs) of the same model or block",
                )
            ordered = ordered and ref in seen
        seen.add(node.name)
    if not ordered:
        _sort(graph)
    _check_used(graph)


def _sort(graph: Graph) -> None:
    """Topological order for graphs with forward references; a cycle is an error."""
    import networkx as nx

    g = graph.to_networkx()
    if not nx.is_directed_acyclic_graph(g):
        cycle = [u for u, _ in nx.find_cycle(g)]
        first = graph.nodes[cycle[0]]
        raise ArchspecError(
            "cycle",
            "the graph has a cycle: " + " -> ".join([*cycle, cycle[0]]),
            loc=first.loc,
            node=first.path,
            hint="inputs must refer to earlier computations; recurrence is a layer (rnn, lstm, gru)",
        )
    position = {name: i for i, name in enumerate(graph.nodes)}
    order = list(nx.lexicographical_topological_sort(g, key=position.__getitem__))
    graph.nodes = {name: graph.nodes[name] for name in order}


def _check_used(graph: Graph) -> None:
    """Every node must reach an output (walk the references back from the outputs)."""
    used: set[str] = set()
    stack = list(graph.outputs)
    while stack:
        name = stack.pop()
        if name not in used:
            used.add(name)
            stack.extend(graph.nodes[name].inputs)
    for node in graph.nodes.values():
        if node.name not in used:
            what = "input" if node.kind == "input" else "node"
            raise ArchspecError(
                "unused-node",
                f"{what} '{node.name}' does not reach any output",
                loc=node.loc,
                node=node.path,
                hint="use it as an input of a later node, list it in `outputs:`, or remove it",
            )


def _same_kind(value: Any, default: Any) -> bool:
    """A block argument fits its default's type (an int fits a float default)."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _scope_hint(scope: dict[str, Any]) -> str:
    names = sorted(k for k in scope if not k.startswith("_"))
    return "names in scope: " + (", ".join(names) if names else "(none)")
