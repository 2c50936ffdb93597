"""Property tests: random valid graphs agree with torch; random mutations only ever raise
ArchspecError. A longer run: `HYPOTHESIS_PROFILE=fuzz pytest tests/test_properties.py`."""

from __future__ import annotations

import copy
import json
import os
import tempfile
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archspec
from archspec.errors import CODES
from archspec.shapes import evaluate

settings.register_profile(
    "ci", max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("fuzz", max_examples=5000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ACTIVATIONS = ["relu", "tanh", "gelu", "sigmoid", "silu"]
BLOCKS = {
    "mlp": {"args": {"width": "int"}, "layers": [{"linear": "$width"}, "relu"]},
    "residual": {
        "layers": [
            {"name": "norm", "layer_norm": None},
            {"name": "ff", "mlp": {"width": 8}},
            {"name": "back", "linear": "$d"},
            {"name": "out", "add": ["back", "input"]},
        ],
        "args": {"d": "int"},
    },
}


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, Any]:
    """A random valid spec: chains, skips (add), merges (concat), nested blocks, symbolic dims."""
    seq = draw(st.booleans())
    width = draw(st.integers(1, 12))
    shape: list[Any] = ["batch", "seq", width] if seq else ["batch", width]
    layers: list[Any] = []
    nodes: list[tuple[str, int]] = [("x", width)]  # (name, last dim), every node has the same rank
    for i in range(draw(st.integers(1, 8))):
        name = f"n{i}"
        kind = draw(st.sampled_from(["linear", "act", "norm", "dropout", "add", "concat", "block", "repeat"]))
        last = nodes[-1][1]
        same = [n for n, d in nodes[:-1] if d == last]
        if kind == "linear":
            out = draw(st.integers(1, 12))
            layers.append({"name": name, "linear": {"out": out, "bias": draw(st.booleans())}})
        elif kind == "act":
            layers.append({"name": name, draw(st.sampled_from(ACTIVATIONS)): None})
            out = last
        elif kind == "norm":
            layers.append({"name": name, "layer_norm": None})
            out = last
        elif kind == "dropout":
            layers.append({"name": name, "dropout": 0.0})
            out = last
        elif kind == "add" and same:
            layers.append({"name": name, "add": [nodes[-1][0], draw(st.sampled_from(same))]})
            out = last
        elif kind == "concat":
            other, d = draw(st.sampled_from(nodes))
            layers.append({"name": name, "concat": {"dim": -1}, "inputs": [nodes[-1][0], other]})
            out = last + d
        elif kind == "block":
            layers.append({"name": name, "residual": {"d": last}, "trainable": draw(st.booleans())})
            out = last
        else:
            out = draw(st.integers(1, 12))
            layers.append({"name": name, "mlp": {"width": out}, "repeat": draw(st.integers(0, 3))})
            out = out if layers[-1]["repeat"] else last
        nodes.append((name, out))
    return {"vars": {"unused": 1}, "blocks": copy.deepcopy(BLOCKS), "inputs": {"x": shape}, "layers": layers}


def load(spec: dict[str, Any]) -> archspec.Spec:
    return archspec.load_text(json.dumps(spec))


@given(graphs())
def test_random_graphs_match_torch(spec: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    s = load(spec)
    a = archspec.analyze(s)
    module = archspec.build(s, seed=0).eval()
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in module.parameters() if not p.requires_grad)
    assert (trainable, frozen) == (a.trainable_params, a.non_trainable_params)
    for sizes in ({"batch": 2, "seq": 3}, {"batch": 3, "seq": 5}):
        (x,) = archspec.example_inputs(s, sizes={k: v for k, v in sizes.items() if k in a.symbols})
        with torch.no_grad():
            y = module(x)
        (out,) = a.outputs.values()
        assert tuple(y.shape) == tuple(evaluate(d, sizes) for d in out.shape)


MUTATIONS = st.sampled_from(
    ["delete", "type", "swap", "huge", "negative", "rename", "string", "nest", "hostile", "exprs"]
)
# Text that must never reach code: quotes, newlines, calls, dunders, keywords, non-ASCII digits.
HOSTILE = [
    "x=[__import__('os').system('touch PWNED')][0]",
    'a"); import os; os.system("touch PWNED',
    "lambda",
    "True",
    "None",
    "__class__",
    "net½",
    "a\nb",
    "append",
    "regularization_loss",
    "0abc",
]
EXPRS = ["$'a' * 10**17", "$'%z' % 1", "$'a' < 1", "$-'a'", "$1/0", "$(((1", "$x.y", "$min()"]


def mutate(data: Any, choice: str, index: int) -> Any:
    """Apply one mutation to the index-th mapping found in ``data`` (depth first)."""
    maps: list[dict[str, Any]] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            maps.append(node)
            for v in node.values():
                collect(v)
        elif isinstance(node, list):
            for v in node:
                collect(v)

    collect(data)
    target = maps[index % len(maps)]
    if not target:
        return data
    key = sorted(target)[index % len(target)]
    if choice == "delete":
        del target[key]
    elif choice == "type":
        target[key] = [target[key]] if not isinstance(target[key], list) else {"x": 1}
    elif choice == "swap":
        keys = sorted(target)
        target[key], target[keys[0]] = target[keys[0]], target[key]
    elif choice == "huge":
        target[key] = 10**18
    elif choice == "negative":
        target[key] = -7
    elif choice == "rename":
        target[key + "_typo"] = target.pop(key)
    elif choice == "string":
        target[key] = "$" + key + " * 1e9"
    elif choice == "hostile":
        target[key] = HOSTILE[index % len(HOSTILE)]
    elif choice == "exprs":
        target[key] = EXPRS[index % len(EXPRS)]
    else:
        target[key] = {"inputs": ["n0", "x"], "add": None}
    return data


# Codes that a spec's text cannot cause (files, sizes given on the command line, the backends).
NOT_FROM_SPEC_TEXT = {
    "file-not-found",
    "file-too-large",
    "dim-size",
    "no-model",
    "memory-budget",
    "missing-dependency",
    "unsupported",
    "export",
    "render",
    "io",
    "plugin",
}


@given(graphs(), st.lists(st.tuples(MUTATIONS, st.integers(0, 1000)), min_size=1, max_size=3))
def test_mutations_raise_only_archspec_errors(spec: dict[str, Any], changes: list[tuple[str, int]]) -> None:
    for choice, index in changes:
        spec = mutate(spec, choice, index)
    text = json.dumps(spec)
    try:
        analysis = archspec.analyze(archspec.load_text(text))
    except archspec.ArchspecError as e:
        assert e.code not in NOT_FROM_SPEC_TEXT, e.format()
        assert e.loc is not None, f"error without a location: {e}"
        assert e.loc.line == 1 and 1 <= e.loc.col <= len(text), e.format()  # within the one-line JSON
        return
    # what passes is safe to generate and run: the emitted source parses and defines its classes
    # without running anything from the spec (a hostile name would have touched PWNED)
    from archspec.backends.torch.pysrc import emit

    source = emit([analysis])
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            exec(compile(source, "emitted.py", "exec"), {"__name__": "emitted"})
            assert not os.path.exists("PWNED")
        finally:
            os.chdir(cwd)


def test_codes_not_from_spec_text_are_codes() -> None:
    assert NOT_FROM_SPEC_TEXT.issubset(CODES)  # a misspelled code here would check nothing


@settings(max_examples=40)
@given(graphs())
def test_random_graphs_costs_match_flop_counter(spec: dict[str, Any]) -> None:
    """MACs and training FLOPs (frozen blocks, skips, repeats) equal FlopCounterMode's count of a
    real forward and backward."""
    pytest.importorskip("torch")
    from flopcount import step_flops

    s = load(spec)
    sizes = {k: v for k, v in {"batch": 2, "seq": 3}.items() if k in archspec.analyze(s).symbols}
    a = archspec.analyze(s, sizes=sizes)
    module = archspec.build(s, seed=0).train()
    (x,) = archspec.example_inputs(s, sizes=sizes)
    assert step_flops(lambda: module(x)) == (2 * a.macs, a.flops.backward)
