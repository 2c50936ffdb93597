"""Every registered layer, checked the same way against the real torch module."""

from __future__ import annotations

import pytest

from archspec.layers import registry
from archspec.shapes import TensorType, evaluate

torch = pytest.importorskip("torch")

from archspec.backends.torch.ops import add_tensor, call_fn, make_module  # noqa: E402

CASES = [
    pytest.param(layer, params, xs, id=f"{name}-{i}")
    for name, layer in sorted(registry().items())
    for i, (params, xs) in enumerate(layer.examples)
]
SIZES = [{"batch": 2, "seq": 5, "h": 9, "w": 11}, {"batch": 3, "seq": 7, "h": 12, "w": 8}]


def test_every_layer_has_examples() -> None:
    missing = [name for name, layer in registry().items() if not layer.examples]
    assert not missing, f"layers without examples: {missing}"


def make_input(t: TensorType, sizes: dict[str, int]) -> torch.Tensor:
    shape = [evaluate(d, sizes) for d in t.shape]
    if t.dtype.startswith("int"):
        return torch.randint(0, 5, shape, dtype=getattr(torch, t.dtype))
    if t.dtype == "bool":
        return torch.zeros(shape, dtype=torch.bool)
    return torch.randn(shape, dtype=getattr(torch, t.dtype))


def run(layer, p, xs, tensors):  # type: ignore[no-untyped-def]
    tensor = layer.tensor(p)
    if tensor is not None:  # a tensor node: its parent holds it, named after the node
        holder = torch.nn.Module()
        add_tensor(holder, "t", tensor, frozen=False)
        return _Renamed(holder), holder.t
    ctor = layer.torch(p, xs)
    if ctor is None:
        return None, call_fn(layer.torch_fn(p), tensors)
    module = make_module(ctor).eval()
    return module, module(*tensors)


class _Renamed:
    """A tensor node's holder, its tensor named "" as the layer names it (the node itself)."""

    def __init__(self, holder: torch.nn.Module) -> None:
        self.holder = holder

    def named_parameters(self):  # type: ignore[no-untyped-def]
        return [("", t) for _, t in self.holder.named_parameters()]

    def named_buffers(self):  # type: ignore[no-untyped-def]
        return [("", t) for _, t in self.holder.named_buffers()]


@pytest.mark.parametrize(("layer", "params", "xs"), CASES)
def test_layer_matches_torch(layer, params, xs) -> None:  # type: ignore[no-untyped-def]
    p = layer.Params.model_validate(params)
    outs = layer.outputs(p, xs)  # several outputs: the module returns them as a tuple, in order
    assert next(iter(outs.values())) == layer.infer(p, xs)
    for sizes in SIZES:
        tensors = [make_input(x, sizes) for x in xs]
        module, y = run(layer, p, xs, tensors)
        ys = list(y) if len(outs) > 1 else [y]
        assert len(ys) == len(outs)
        for got, out in zip(ys, outs.values(), strict=True):
            assert list(got.shape) == [evaluate(d, sizes) for d in out.shape], (out, sizes)
            assert str(got.dtype).removeprefix("torch.") == out.dtype
    weights = layer.weights(p, xs)
    buffers = layer.buffers(p, xs)
    if module is None:
        assert not weights and not buffers
        return
    real = {n: tuple(t.shape) for n, t in module.named_parameters()}
    assert real == weights
    assert {n: tuple(t.shape) for n, t in module.named_buffers()} == buffers
    frozen = {n for n, t in module.named_parameters() if not t.requires_grad}
    assert frozen == set(layer.frozen) & set(weights)
    assert layer.label(p)
