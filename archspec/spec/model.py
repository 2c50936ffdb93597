"""Pydantic models of a spec file's sections.

Layer entries are validated one by one in ``archspec.ir.build`` (their type key picks
the parameter model from the registry); ``archspec.spec.schema`` assembles the full
JSON Schema, entries included, from these models and the registry.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from archspec.shapes import DTYPES

DimSpec = Union[StrictInt, str]
DType = Literal[DTYPES]  # type: ignore[valid-type]
Scalar = Union[StrictBool, StrictInt, float, str]


MAX_SEED = 2**63 - 1
Seed = Annotated[StrictInt, Field(ge=0, le=MAX_SEED, description="a seed in [0, 2^63)")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class InputSpec(_Strict):
    """A model input: its shape (ints and symbolic names) and dtype."""

    shape: list[DimSpec] = Field(description="sizes: integers or symbolic names like `batch`")
    dtype: DType = "float32"
    high: StrictInt | None = Field(
        None, description="integer inputs: ids are in [0, high) (defaults to the vocabulary)"
    )
    layout: Literal["channels_first", "channels_last"] = Field(
        "channels_first",
        description="channels_last: the shape is [batch, *spatial, channels] (Keras, TensorFlow); "
        "archspec moves the channels to dim 1 for the layers",
    )


InitName = Literal[
    "constant",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
    "normal",
    "trunc_normal",
    "uniform",
    "orthogonal",
    "zeros",
    "ones",
]
# `xavier_uniform`, or one scheme with its settings: `{normal: {std: 0.02}}`.
InitValue = Union[InitName, dict[InitName, dict[str, float | str] | None]]


class Regularizer(_Strict):
    """Weight penalties on a node's parameters (as Keras' kernel regularizers)."""

    l1: float = Field(0.0, ge=0)
    l2: float = Field(0.0, ge=0)


class EntryFields(_Strict):
    """The keys every layer entry may have besides its one type key."""

    name: str | None = Field(None, description="the node's name (an identifier)")
    inputs: str | list[str] | None = Field(
        None, description="names of the nodes feeding this one (default: the previous node)"
    )
    trainable: StrictBool = True
    init: InitValue | dict[str, InitValue] | None = Field(
        None, description="initializer for `weight`, or a mapping of parameter name to initializer"
    )
    repeat: StrictInt | str | None = Field(
        None, description="stack this many copies, chained (`index` is 0, 1, ... in each)"
    )
    copies: str | None = Field(
        None,
        description="names of a repeat's copies, a pattern with {index} (default: 0, 1, ...), "
        "e.g. encoder_layer_{index}",
    )
    when: StrictBool | None = Field(
        None, description="include this entry only if true (a boolean or $expression)"
    )
    tie: str | None = Field(None, description="share `weight` with this node (by name)")
    regularizer: Regularizer | None = None
    doc: str | None = None


ENTRY_KEYS = frozenset(EntryFields.model_fields)


class BlockSpec(_Strict):
    """A reusable, parameterized group of layers."""

    doc: str | None = None
    args: dict[str, Scalar] = Field(
        default_factory=dict,
        description="arguments: a default value, or a type name (int, float, bool, str) if required",
    )
    inputs: list[str] = Field(default_factory=lambda: ["input"])
    layers: list[Any]
    outputs: str | list[str] | None = None


class ModelSpec(_Strict):
    """One model: inputs, layers, outputs."""

    doc: str | None = None
    vars: dict[str, Scalar] = Field(
        default_factory=dict, description="this model's variables (beside the file's `vars`)"
    )
    inputs: dict[str, InputSpec | list[DimSpec]]
    layers: list[Any]
    outputs: str | list[str] | None = None
    seed: Seed | None = None


class SpecFile(_Strict):
    """A whole spec file: one model at the top level, or several under ``models``."""

    name: str | None = None
    doc: str | None = None
    seed: Seed | None = None
    vars: dict[str, Scalar] = Field(default_factory=dict)
    blocks: dict[str, BlockSpec] = Field(default_factory=dict)
    models: dict[str, ModelSpec] | None = None
    inputs: dict[str, InputSpec | list[DimSpec]] | None = None
    layers: list[Any] | None = None
    outputs: str | list[str] | None = None
