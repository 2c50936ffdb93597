"""State for which a model's output depends on every layer, so that a comparison can fail.

Built with torch's default initialisation and batch norm in eval mode (running mean 0,
variance 1), a deep CNN's signal shrinks layer after layer: EfficientNet-B0's output equals its
classifier's bias, and a check of it passes whatever the other layers compute. ``exercised``
changes the module in place for the duration of a block, then puts every tensor back:

- every floating parameter whose elements are all equal (norm scales and shifts, zero biases,
  layer scales) gets noise: ``c + N(0, 1) * max(|c|, 0.1) / 2``;
- every batch norm's running statistics are measured on the given inputs (one forward pass
  with only the batch norms training, momentum 1); where that cannot run (one value per
  channel) they are drawn at random (mean ``N(0, 0.1^2)``, variance ``U(0.5, 1.5)``);
- with ``rescale`` (deep stacks without normalization, VGG-like, whose signal shrinks by the
  initialisation's gain at every layer), in the same pass each module with a ``weight`` of two
  or more dims (linear maps, convolutions) has its weight and bias scaled so that its output
  has unit standard deviation on those inputs.

This module imports torch; only checks import it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

Inputs = Callable[[], Sequence[torch.Tensor]]


@contextmanager
def exercised(module: nn.Module, inputs: Inputs, seed: int = 0, rescale: bool = False) -> Iterator[set[str]]:
    """Exercise ``module`` for the block; yield the ``state_dict`` keys whose values changed
    (every key of a shared tensor). Afterwards the module is as it was."""
    saved: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    norms = _norms(module)
    momenta = [(m, m.momentum) for m in norms]
    training = {m: m.training for m in module.modules()}
    try:
        yield _exercise(module, norms, inputs, seed, saved, rescale)
    finally:
        with torch.no_grad():
            for tensor, old in saved.values():
                tensor.copy_(old)
        for m, momentum in momenta:
            m.momentum = momentum
        for mod, mode in training.items():
            mod.training = mode


def exercise(module: nn.Module, inputs: Inputs, seed: int = 0, rescale: bool = False) -> set[str]:
    """Exercise ``module`` for good (to compare two modules: exercise one, copy its state into
    the other). Returns the keys whose values changed."""
    return _exercise(module, _norms(module), inputs, seed, {}, rescale)


def rescalable(module: nn.Module) -> bool:
    """Whether ``rescale`` would change anything."""
    return any(_linear_map(m) for m in module.modules())


def _norms(module: nn.Module) -> list[_BatchNorm]:
    return [m for m in module.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]


def _exercise(
    module: nn.Module,
    norms: list[_BatchNorm],
    inputs: Inputs,
    seed: int,
    saved: dict[int, tuple[torch.Tensor, torch.Tensor]],
    rescale: bool,
) -> set[str]:
    state = module.state_dict(keep_vars=True)
    gen = torch.Generator().manual_seed(seed)

    def keep(t: torch.Tensor) -> None:
        saved.setdefault(id(t), (t, t.detach().clone()))

    with torch.no_grad():
        for p in module.parameters():  # a shared parameter comes once
            if p.is_floating_point() and p.numel() and _constant(p):
                keep(p)
                c = float(p.flatten()[0])
                noise = torch.randn(p.shape, generator=gen, dtype=torch.float32) * (max(abs(c), 0.1) / 2)
                p.add_(noise.to(p.dtype))
        for m in norms:
            assert m.running_mean is not None and m.running_var is not None
            for t in (m.running_mean, m.running_var):
                keep(t)
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
    maps = [m for m in module.modules() if rescale and _linear_map(m)]
    for lin in maps:
        for w in (getattr(lin, "weight", None), getattr(lin, "bias", None)):
            if isinstance(w, torch.Tensor):
                keep(w)
    if norms or maps:
        _calibrate(module, norms, maps, inputs)
    return {k for k, v in state.items() if id(v) in saved}


def _linear_map(m: nn.Module) -> bool:
    w = getattr(m, "weight", None)
    return (
        isinstance(w, nn.Parameter)
        and w.dim() >= 2
        and w.is_floating_point()
        and not isinstance(m, nn.Embedding)
    )


def _unit(m: nn.Module, args: Any, out: Any) -> Any:
    """A forward hook: scale the module's weight and bias so that its output has unit std."""
    if not isinstance(out, torch.Tensor) or out.numel() < 2 or not out.is_floating_point():
        return None
    std = float(out.detach().double().std())
    if not 0 < std < float("inf"):
        return None
    for p in (m.weight, getattr(m, "bias", None)):
        if isinstance(p, torch.Tensor):
            p.mul_(1 / std)
    return out / std


def _calibrate(module: nn.Module, norms: list[_BatchNorm], maps: list[nn.Module], inputs: Inputs) -> None:
    """Running statistics measured on ``inputs``, and linear maps scaled to unit output, in one
    pass with only the batch norms training."""
    drawn = {m: (m.running_mean.clone(), m.running_var.clone()) for m in norms}  # type: ignore[union-attr]
    modes = {m: m.training for m in module.modules()}
    module.eval()
    for m in norms:
        m.train()
        m.momentum = 1.0  # running statistics = this batch's
    hooks = [m.register_forward_hook(_unit) for m in maps]
    try:
        with torch.no_grad():
            module(*inputs())
    except (ValueError, RuntimeError):  # "Expected more than 1 value per channel": keep the drawn ones
        with torch.no_grad():
            for m, (mean, var) in drawn.items():
                m.running_mean.copy_(mean)  # type: ignore[union-attr]
                m.running_var.copy_(var)  # type: ignore[union-attr]
    finally:
        with torch.no_grad():  # a variance measured on a few values may be near 0: a badly
            for m in norms:  # conditioned norm that amplifies rounding, not the model's maths
                var = m.running_var
                assert var is not None
                var.clamp_(min=max(float(var.mean()) * 0.25, 1e-3))
        for h in hooks:
            h.remove()
        for mod, mode in modes.items():
            mod.training = mode
        module.eval()


def _constant(p: torch.Tensor) -> bool:
    flat = p.detach().flatten()
    if flat.numel() > 1 and flat[0] != flat[-1]:  # the usual case, without a pass over all
        return False
    return bool((flat == flat[0]).all())
