"""Every spec, built in torch: each node's real output shape equals the inferred one at two
sizes of every symbolic dim, and the parameter/buffer counts equal the module's."""

from __future__ import annotations

from pathlib import Path

import pytest

import archspec
from archspec.passes import Analysis
from archspec.shapes import evaluate

torch = pytest.importorskip("torch")

from conftest import SPECS  # noqa: E402

BIG = 300_000_000  # never materialize these (gpt3): checked statically elsewhere
SIZES = [{"batch": 2, "seq": 6}, {"batch": 3, "seq": 9}]


def models(path: Path) -> list[str]:
    return archspec.load(path).model_names()


CASES = [pytest.param(p, m, id=f"{p.stem}-{m}") for p in SPECS for m in models(p)]


def unique_numel(module: torch.nn.Module) -> tuple[int, int]:
    trainable = frozen = 0
    for p in module.parameters():  # parameters() yields each shared tensor once
        if p.requires_grad:
            trainable += p.numel()
        else:
            frozen += p.numel()
    return trainable, frozen


@pytest.mark.parametrize(("path", "model"), CASES)
def test_counts_and_shapes_match_torch(path: Path, model: str) -> None:
    a = archspec.analyze(str(path), model)
    if a.total_params > BIG:
        pytest.skip(f"{a.total_params:,} parameters: static check only")
    module = archspec.build(path, model, seed=0).eval()
    assert unique_numel(module) == (a.trainable_params, a.non_trainable_params)
    assert sum(b.numel() for b in module.buffers()) == a.buffers
    for sizes in SIZES:
        check_shapes(path, model, module, a, sizes)


def check_shapes(path: Path, model: str, module: torch.nn.Module, a: Analysis, sizes: dict[str, int]) -> None:
    seen: dict[str, tuple[int, ...]] = {}
    hooks = []
    for name, sub in module.named_modules():
        if name:
            hooks.append(sub.register_forward_hook(_recorder(name, seen)))
    inputs = archspec.example_inputs(path, model, {k: v for k, v in sizes.items() if k in a.symbols})
    with torch.no_grad():
        module(*inputs)
    for h in hooks:
        h.remove()
    sized = {**{k: 4 for k in _symbols(a)}, **sizes}
    checked = 0
    for _, node in a.graph.walk():
        if node.path in seen and node.out is not None and node.kind != "model":
            want = tuple(evaluate(d, sized) for d in node.out.shape)
            assert seen[node.path] == want, f"{node.path}: torch {seen[node.path]} vs inferred {want}"
            checked += 1
    assert checked > 0


def _symbols(a: Analysis) -> set[str]:
    return {s for t in a.inputs.values() for s in t.symbols}


def _recorder(name: str, seen: dict[str, tuple[int, ...]]):  # type: ignore[no-untyped-def]
    def hook(module, args, out) -> None:  # type: ignore[no-untyped-def]
        if isinstance(out, torch.Tensor) and name not in seen:
            seen[name] = tuple(out.shape)

    return hook
