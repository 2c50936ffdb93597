"""The cost rules: one pure function per operation, used by every layer (docs/costs.md).

**MACs** are the multiply-accumulates of matrix products and convolutions, what
``torch.utils.flop_counter.FlopCounterMode`` counts, halved: linear layers, convolutions
(transposed too), the matrix products of recurrent cells and attention's two products
(``Q K^T`` and ``attention · V``). Bias adds are not MACs.

**Other FLOPs** are everything else a forward pass at inference computes, one FLOP per element
per elementwise operation (an add, a multiply, a bias add, an activation function, a
comparison), with the few rules below for normalization, softmax, pooling and interpolation.
Moving data (reshape, concat, select, embedding lookup, nearest upsampling) costs nothing, and
dropout is the identity at inference.

A layer lists its matrix products as ``Product`` s (its MACs are their sum); the backward pass
computes, for each product, the gradient of each operand that requires one, at the same MACs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Operands of a product other than parameters (which are named by their torch name).
INNER = "inner"  # computed inside the layer from its inputs and parameters
CONST = "const"  # a constant (an RNN's zero initial state): never needs a gradient


def arg(i: int) -> str:
    """The operand that is the layer's input ``i``."""
    return f"in{i}"


@dataclass(frozen=True)
class Product:
    """One matrix product (or convolution) of a forward pass: ``macs`` multiply-accumulates
    of operands ``a`` and ``b``, each ``arg(i)`` (input i), a parameter's torch name,
    ``INNER`` or ``CONST``. Its backward computes the gradient of each operand that requires
    one, each at the same ``macs``."""

    macs: int
    a: str
    b: str


def backward_macs(products: Sequence[Product], inputs: Sequence[bool], weights: Mapping[str, bool]) -> int:
    """The MACs of the backward pass through a layer, as ``FlopCounterMode`` counts them: for each
    product, the gradient of each operand that requires one, at the product's MACs. ``inputs``:
    which inputs require a gradient; ``weights``: which parameters do (are trainable). A value
    computed inside the layer requires one when any input or parameter does."""
    inner = any(inputs) or any(weights.values())

    def needs(operand: str) -> bool:
        if operand == CONST:
            return False
        if operand == INNER:
            return inner
        if operand[:2] == "in" and operand[2:].isdigit():
            return inputs[int(operand[2:])]
        return weights.get(operand, False)

    return sum(pr.macs * (needs(pr.a) + needs(pr.b)) for pr in products)


# MACs ----------------------------------------------------------------------------------


def matmul(batch: int, rows: int, inner: int, cols: int) -> int:
    """A batch of ``[rows, inner] @ [inner, cols]`` products."""
    return batch * rows * inner * cols


def linear(rows: int, fan_in: int, fan_out: int) -> int:
    """``x W^T`` for ``rows`` vectors of ``fan_in`` features (the bias add is not a MAC)."""
    return rows * fan_in * fan_out


def conv(out_numel: int, in_per_group: int, kernel_numel: int) -> int:
    """A convolution: every output element accumulates its group's inputs under the kernel."""
    return out_numel * in_per_group * kernel_numel


def conv_transpose(in_numel: int, out_per_group: int, kernel_numel: int) -> int:
    """A transposed convolution: every input element is scattered through the kernel to its
    group's output channels (torch counts it over the input, not the output)."""
    return in_numel * out_per_group * kernel_numel


def attention(batch: int, seq_q: int, seq_k: int, d: int) -> int:
    """One of attention's two products (``Q K^T``, or ``attention · V``), all heads together:
    heads of width ``d / heads`` make ``batch · heads · seq_q · seq_k · d / heads``. A causal
    mask does not make it cheaper: the full product is computed, then masked."""
    return batch * seq_q * seq_k * d


# Other FLOPs ---------------------------------------------------------------------------


def elementwise(n: int, ops: int = 1) -> int:
    """``ops`` elementwise operations over ``n`` elements: one FLOP per element per operation
    (an add, a multiply, a bias add, a comparison, an activation function, whatever its formula)."""
    return n * ops


def bias(n: int, present: bool) -> int:
    """A bias added to ``n`` output elements."""
    return elementwise(n) if present else 0


def softmax(n: int) -> int:
    """Softmax or log-softmax over ``n`` elements: an exponential, a sum and a division (or a
    subtraction of the log-sum) per element: 3."""
    return elementwise(n, 3)


def batch_norm(n: int) -> int:
    """Batch norm at inference: the running statistics (and the affine scale and shift) fold
    into one multiply and one add per element: 2."""
    return elementwise(n, 2)


def layer_norm(n: int, weight: bool, bias: bool) -> int:
    """Layer norm: the mean (an add per element), centring (a subtraction), the variance (a
    square and an add) and scaling by 1/σ (a multiply): 5 per element, then 1 for the weight
    and 1 for the bias when present."""
    return elementwise(n, 5 + int(weight) + int(bias))


def window(out_numel: int, window_numel: int, average: bool) -> int:
    """Pooling: one FLOP per window element (a comparison or an add) per output element, padding
    positions included, and for an average one division per output element."""
    return out_numel * window_numel + (out_numel if average else 0)


def adaptive_window(in_sizes: Sequence[int], out_sizes: Sequence[int], planes: int) -> int:
    """Adaptive average pooling: each output averages its own window (torch's windows: from
    ``floor(i L / out)`` to ``ceil((i + 1) L / out)`` in each dim), so the FLOPs are the
    windows' elements plus one division per output, over ``planes`` (batch × channels)."""
    total = planes
    for size, out in zip(in_sizes, out_sizes, strict=True):
        total *= sum(-(-(i + 1) * size // out) - (i * size // out) for i in range(out))
    return total + planes * math.prod(out_sizes)


def bilinear(n: int) -> int:
    """Bilinear interpolation of ``n`` output elements from 4 neighbours: 4 multiplies and 3 adds."""
    return elementwise(n, 7)


# Composite blocks: the rules above, applied to the operations of a block -----------------


def attention_products(
    prefix: str, batch: int, seq_q: int, seq_k: int, d: int, kdim: int, query: str, memory: str
) -> list[Product]:
    """``nn.MultiheadAttention``'s products: the Q, K and V projections (of ``query`` and
    ``memory``), ``Q K^T``, ``attention · V`` and the output projection. Parameters as torch
    names them under ``prefix`` (packed ``in_proj_weight`` unless keys have another width)."""
    names = ("in_proj_weight",) * 3 if kdim == d else ("q_proj_weight", "k_proj_weight", "v_proj_weight")
    wq, wk, wv = (prefix + n for n in names)
    return [
        Product(linear(batch * seq_q, d, d), query, wq),
        Product(linear(batch * seq_k, kdim, d), memory, wk),
        Product(linear(batch * seq_k, kdim, d), memory, wv),
        Product(attention(batch, seq_q, seq_k, d), INNER, INNER),
        Product(attention(batch, seq_q, seq_k, d), INNER, INNER),
        Product(linear(batch * seq_q, d, d), INNER, prefix + "out_proj.weight"),
    ]


def attention_other(
    batch: int, seq_q: int, seq_k: int, d: int, heads: int, has_bias: bool, causal: bool
) -> int:
    """Multi-head attention's other FLOPs: the projections' bias adds, then per score
    (``batch · heads · seq_q · seq_k``) the scaling by 1/√(d/heads), the causal mask's add
    when masked, and the softmax (dropout on the weights is the identity at inference)."""
    scores = batch * heads * seq_q * seq_k
    biases = bias(2 * batch * seq_q * d + 2 * batch * seq_k * d, has_bias)
    return biases + elementwise(scores, 2 if causal else 1) + softmax(scores)


def rnn_cell(n: int, has_bias: bool) -> int:
    """One Elman step over ``n`` hidden units: the input and recurrent terms' add, the two
    biases, the activation."""
    return elementwise(n, 2) + bias(2 * n, has_bias)


def lstm_cell(n: int, has_bias: bool) -> int:
    """One LSTM step over ``n`` hidden units: the 4 gates' input and recurrent terms' adds (4)
    and biases (8), 3 sigmoids and 2 tanh, ``c = f c + i g`` (3), ``h = o tanh(c)`` (1)."""
    return elementwise(n, 4 + 5 + 3 + 1) + bias(8 * n, has_bias)


def gru_cell(n: int, has_bias: bool) -> int:
    """One GRU step over ``n`` hidden units: reset and update gates (an add and a sigmoid
    each), the candidate (``r ⊙ (W h)``, an add, a tanh), ``h = (1 - z) n + z h`` (4), and
    the 6 biases."""
    return elementwise(n, 2 * 2 + 3 + 4) + bias(6 * n, has_bias)


def feed_forward_products(rows: int, d: int, ff: int) -> list[Product]:
    """A transformer layer's feed-forward, ``linear2(act(linear1(x)))`` (``x`` computed inside)."""
    return [
        Product(linear(rows, d, ff), INNER, "linear1.weight"),
        Product(linear(rows, ff, d), INNER, "linear2.weight"),
    ]


def sublayer_other(n: int, has_bias: bool) -> int:
    """A transformer sublayer's residual add and layer norm over ``n`` elements."""
    return elementwise(n) + layer_norm(n, weight=True, bias=has_bias)


def feed_forward_other(rows: int, d: int, ff: int, has_bias: bool, sublayers: int) -> int:
    """The feed-forward's bias adds and activation, and ``sublayers`` residual adds and norms."""
    return (
        bias(rows * ff + rows * d, has_bias)
        + elementwise(rows * ff)
        + sublayers * sublayer_other(rows * d, has_bias)
    )


def sinusoid_table(entries: int) -> int:
    """The fixed sin/cos position table: an angle multiply and a sin or cos per entry."""
    return elementwise(entries, 2)
