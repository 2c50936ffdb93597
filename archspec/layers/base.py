"""The layer interface: one class per layer type owns everything about it.

A layer type declares its parameter model (pydantic, ``extra="forbid"``), its shape
rule, the names and shapes of its parameters and buffers (the counts are derived from
these, so they follow PyTorch's naming and conventions exactly), its MACs, how torch
builds it, and its diagram label. Nothing else in archspec branches on a type's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from archspec.errors import ErrorCode
from archspec.layers import costs
from archspec.layers.costs import Product
from archspec.layers.memory import Kept, MemCtx, Memory
from archspec.shapes import Dim, TensorType

Shape = tuple[int, ...]


class LayerParams(BaseModel):
    """Base of every layer's parameter model.

    ``torch_names`` maps PyTorch's argument names to this layer's setting names (``None`` where
    archspec infers the value from the input's shape), so that a user who writes PyTorch's name
    gets a hint: ``out_features`` -> "write it as 'out'", ``in_features`` -> "it is inferred".
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
    torch_names: ClassVar[dict[str, str | None]] = {}


class NoParams(LayerParams):
    """For layers that take no settings."""


class ShapeError(Exception):
    """A shape rule rejects its inputs; the pass adds the node and location."""

    def __init__(
        self,
        message: str,
        *,
        expected: str | None = None,
        got: str | None = None,
        hint: str | None = None,
        code: ErrorCode = "shape-mismatch",
    ) -> None:
        super().__init__(message)
        self.message, self.expected, self.got, self.hint, self.code = (
            message,
            expected,
            got,
            hint,
            code,
        )


@dataclass(frozen=True)
class TorchCtor:
    """How torch builds a layer: a class and its keyword arguments.

    ``cls`` is ``"nn.<Class>"`` (torch.nn) or ``"<family>.<Class>"`` (archspec.torchmods.<family>),
    names from the registry, never from a spec. A plugin passes its class itself (``of``).
    """

    cls: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    impl: Any = None  # a plugin's nn.Module subclass

    @classmethod
    def of(cls, module_cls: type, kwargs: dict[str, Any]) -> TorchCtor:
        return cls(f"{module_cls.__module__}:{module_cls.__name__}", kwargs, module_cls)

    @property
    def source_module(self) -> str | None:
        """The module whose source the standalone file copies (None for torch.nn)."""
        if self.impl is not None:
            return str(self.impl.__module__)
        prefix = self.cls.partition(".")[0]
        return None if prefix == "nn" else f"archspec.torchmods.{prefix}"

    @property
    def class_name(self) -> str:
        return self.impl.__name__ if self.impl is not None else self.cls.rpartition(".")[2]


@dataclass(frozen=True)
class TorchFn:
    """A functional op: the function ``fn`` applied to the node's inputs.

    ``fn`` is a dotted name under ``torch`` or ``operator`` (``torch.cat``, ``operator.add``,
    ``torch.nn.functional.pad``), a name from the registry, never from a spec; a plugin passes its
    own function as ``impl`` (``fn`` then names it in generated source). ``reduce``: fold the
    inputs pairwise (``a + b + c``); ``pack``: pass them as one list (``torch.cat([a, b])``);
    otherwise as positional arguments. ``kwargs`` are keyword arguments. ``source`` is how
    generated code writes one call, over the arguments ``{0}``, ``{1}`` (``"{0} + {1}"``); by
    default ``fn(args, kwargs)``.
    """

    fn: str
    reduce: bool = False
    pack: bool = False
    kwargs: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    impl: Any = None


@dataclass(frozen=True)
class TorchTensor:
    """A tensor its parent module holds as an attribute named after the node (a ``parameter``
    node: ``class_token``, ``encoder.pos_embedding``; a constant: a causal mask).

    A parameter (``buffer=False``) is created empty and set by the node's ``init:`` (``fill`` is
    the default scheme, e.g. ``"zeros"``); a buffer is made by ``fill``: an init scheme name, or a
    function of ``archspec.torchmods.constants`` (``"causal_mask"``) called with ``kwargs``.
    """

    shape: tuple[int, ...]
    buffer: bool = False
    persistent: bool = True
    fill: str = "zeros"
    kwargs: dict[str, Any] = field(default_factory=dict)
    dtype: str = "float32"


def param_path(node_path: str, name: str) -> str:
    """The state_dict key of a layer's parameter or buffer ``name`` ("" for a node that is itself
    a tensor attribute of its parent)."""
    return f"{node_path}.{name}" if name else node_path


class LayerType:
    """Base class of registered layer types (see ``archspec.layers.register_layer``)."""

    name: ClassVar[str]  # the key used in specs, e.g. "conv2d"
    family: ClassVar[str] = "misc"
    Params: ClassVar[type[LayerParams]] = NoParams
    primary: ClassVar[str | None] = None  # the field a scalar shorthand sets: `linear: 64`
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1
    # Names of parameters created with requires_grad=False (counted as non-trainable).
    frozen: ClassVar[tuple[str, ...]] = ()
    # The parameter a `tie:` shares with another layer of the same type (None: cannot be tied).
    tied: ClassVar[str | None] = None
    # Example settings for the registry-wide tests: (params, input types).
    examples: ClassVar[list[tuple[dict[str, Any], list[TensorType]]]] = []

    @classmethod
    def infer(cls, p: Any, xs: list[TensorType]) -> TensorType:
        """The output type for inputs ``xs``; raise ``ShapeError`` when they do not fit."""
        return xs[0]

    @classmethod
    def outputs(cls, p: Any, xs: list[TensorType]) -> dict[str, TensorType]:
        """Every output by name, the default output first (one output, ``out``, unless a layer
        says otherwise; its torch module then returns them as a tuple in this order)."""
        return {"out": cls.infer(p, xs)}

    @classmethod
    def weights(cls, p: Any, xs: list[TensorType]) -> dict[str, Shape]:
        """Parameters as torch names them (``weight``, ``bias``, ``weight_ih_l0``...)."""
        return {}

    @classmethod
    def buffers(cls, p: Any, xs: list[TensorType]) -> dict[str, Shape]:
        """Buffers as torch names them (``running_mean``...)."""
        return {}

    @classmethod
    def memory(cls, p: Any, c: MemCtx) -> Memory:
        """What the layer holds in memory (``archspec.layers.memory``): the storages autograd
        saves for backward, outputs that are views, KV cache, tensor-parallel split. A layer
        that does not say is assumed to keep each of its inputs."""
        return Memory(keep=tuple(Kept(f"in{i}") for i in range(len(c.ins))))

    @classmethod
    def penalized(cls, p: Any, xs: list[TensorType]) -> tuple[str, ...]:
        """The parameters that L1/L2 penalties (`regularizer:`) and weight decay act on: the
        weights of linear maps (weight matrices, convolution kernels, embedding tables), not
        biases or normalization scales. None by default."""
        return ()

    @classmethod
    def macs(cls, p: Any, xs: list[Shape], out: Shape) -> int:
        """Multiply-accumulates of the matrix products and convolutions, for concrete shapes:
        what torch's ``FlopCounterMode`` counts, halved (bias adds excluded; docs/costs.md).
        The sum of ``products``; a layer may override either."""
        return sum(pr.macs for pr in cls.products(p, xs, out))

    @classmethod
    def products(cls, p: Any, xs: list[Shape], out: Shape) -> list[Product]:
        """The forward pass's matrix products and convolutions, each with its MACs and its two
        operands (an input, a parameter, a value computed inside the layer, or a constant), from
        which the backward pass's FLOPs follow. A layer that overrides only ``macs`` is taken to
        multiply its first input by its parameters."""
        if getattr(cls.macs, "__func__", None) is not LayerType.macs.__func__:  # type: ignore[attr-defined]
            return [Product(cls.macs(p, xs, out), costs.arg(0), costs.INNER)]
        return []

    @classmethod
    def other_flops(cls, p: Any, xs: list[Shape], out: Shape) -> int:
        """FLOPs of everything else the forward pass computes at inference (normalization,
        pooling, softmax, activations, adds, bias adds), by the rules of ``archspec.layers.costs``."""
        return 0

    @classmethod
    def output_requires_grad(cls, p: Any, inputs: list[bool], trainable: bool) -> bool:
        """Whether the output requires a gradient, given which inputs do and whether any of the
        layer's parameters is trainable (a step function or a comparison cuts the graph)."""
        return trainable or any(inputs)

    @classmethod
    def torch(cls, p: Any, xs: list[TensorType]) -> TorchCtor | None:
        """The module to build, or None for a functional op (see ``torch_expr``)."""
        return None

    @classmethod
    def tensor(cls, p: Any) -> TorchTensor | None:
        """For a node that is itself a tensor of its parent module (no inputs): the tensor."""
        return None

    @classmethod
    def torch_fn(cls, p: Any) -> TorchFn:
        """The function a functional op (``torch`` returned None) calls on its inputs."""
        raise NotImplementedError(f"{cls.name} has neither a module nor a function")

    @classmethod
    def label(cls, p: Any) -> str:
        """Short text for diagrams: type and key settings."""
        return cls.display_name()

    @classmethod
    def display_name(cls) -> str:
        return "".join(part.capitalize() for part in cls.name.split("_"))

    @classmethod
    def id_range(cls, p: Any) -> int | None:
        """For a layer fed integer ids: ids must be below this (the vocabulary size)."""
        return None

    @classmethod
    def onnx_issue(cls, p: Any, opset: int, xs: list[TensorType]) -> str | None:
        """Why this layer cannot be exported at ``opset`` for inputs ``xs`` (symbolic dims are
        dynamic axes), or None when it can."""
        return None


# Shared shape helpers ---------------------------------------------------------------


def need_rank(x: TensorType, ranks: tuple[int, ...], what: str, hint: str | None = None) -> None:
    if x.rank not in ranks:
        want = " or ".join(f"{r}-D" for r in ranks)
        raise ShapeError(
            f"{what} needs a {want} input",
            expected=want + " tensor",
            got=f"{x} ({x.rank}-D)",
            hint=hint,
        )


def need_int(d: Dim, what: str, hint: str | None = None) -> int:
    if not isinstance(d, int):
        raise ShapeError(
            f"{what} must be a known size, not the symbolic dim '{d}'",
            hint=hint or "give that dimension a fixed size in `inputs:`",
        )
    return d


def need_float(x: TensorType, what: str) -> None:
    if not x.dtype.startswith(("float", "bfloat")):
        raise ShapeError(
            f"{what} needs a floating-point input",
            expected="float32 (or another float dtype)",
            got=str(x),
            hint="integer ids go through an `embedding` first",
        )


def numel(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
