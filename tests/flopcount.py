"""Counting a real torch forward and backward with ``torch.utils.flop_counter.FlopCounterMode``.

Torch's counter sees the operators that run. Two CPU kernels hide their products from it, so
the counts here run on the paths it sees (the same products, computed another way):

- scaled dot-product attention: the CPU flash kernel (``_scaled_dot_product_flash_attention_for_cpu``)
  is not in its table, so attention runs on the math backend (``Q K^T`` and ``attention · V``
  as ``bmm``);
- LSTM: oneDNN's fused kernel (``mkldnn_rnn``) is not in its table, so oneDNN is switched off
  and torch's own cell runs (``addmm``/``mm`` per step).

And one formula of the counter differs from the products computed: for the weight gradient of a
grouped convolution (``groups`` > 1, transposed or not) it counts every input channel against
every output channel, ``groups`` times the products the gradient takes (as many as the forward's).
archspec counts the products; ``counter_overcount`` says what the counter adds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

# Layers whose default CPU kernel torch's counter misses, and why (see the module docstring).
HIDDEN_FROM_COUNTER = {
    "lstm": "oneDNN's fused LSTM kernel (mkldnn_rnn) is not counted: counted with oneDNN off",
    "multihead_attention": "the CPU flash attention kernel is not counted: counted on math SDPA",
    "transformer_encoder_layer": "the CPU flash attention kernel is not counted: counted on math SDPA",
    "transformer_decoder_layer": "the CPU flash attention kernel is not counted: counted on math SDPA",
    "attention": "the CPU flash attention kernel is not counted: counted on math SDPA",
    "scaled_dot_product_attention": "the CPU flash attention kernel is not counted: counted on math SDPA",
}


# Layers whose weight gradient FlopCounterMode overcounts when grouped (see the module docstring).
GROUPED_WEIGHT_GRADIENT = (
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "depthwise_conv1d",
    "depthwise_conv2d",
    "depthwise_conv3d",
)


def counter_overcount(layer: str, groups: int, forward_macs: int, weight_trainable: bool) -> int:
    """The MACs FlopCounterMode adds to a layer's backward beyond the products computed."""
    if layer in GROUPED_WEIGHT_GRADIENT and weight_trainable:
        return (groups - 1) * forward_macs
    return 0


@contextlib.contextmanager
def visible_kernels() -> Iterator[None]:
    """Run attention and LSTMs on kernels whose products FlopCounterMode counts."""
    with sdpa_kernel(SDPBackend.MATH), torch.backends.mkldnn.flags(enabled=False):
        yield


def step_flops(fn: Callable[[], object], visible: bool = True) -> tuple[int, int]:
    """(forward, backward) FLOPs of ``fn()`` then the backward of the sum of its outputs (0 when
    no output requires a gradient), as FlopCounterMode counts them; on ``visible_kernels``
    unless ``visible`` is False."""
    fwd, bwd = FlopCounterMode(display=False), FlopCounterMode(display=False)
    with visible_kernels() if visible else contextlib.nullcontext():
        with fwd:
            y = fn()
        outs: Sequence[torch.Tensor] = y if isinstance(y, tuple) else (y,)  # type: ignore[assignment]
        needs = [o for o in outs if o.requires_grad]
        with bwd:
            if needs:
                sum(o.float().sum() for o in needs).backward()  # type: ignore[union-attr]
    return fwd.get_total_flops(), bwd.get_total_flops()
