"""Rules for every name that reaches code, and the one guard that code generation applies.

Two layers of defence, so that no text from a spec can become executed code:

- ``name_problem`` and ``dim_problem`` check names where the spec defines them (node, input,
  block and model names, symbolic dims) and report a located error.
- ``ident`` is applied by every code generator (the standalone source, the torch.fx forward, the
  class names) to every identifier it writes. It accepts only ``[A-Za-z][A-Za-z0-9_]*`` that is
  not a Python keyword, and raises otherwise: a name that slipped past validation cannot reach
  generated code, whatever its characters.
"""

from __future__ import annotations

import builtins
import keyword
import re

# Attributes of torch.nn.Module that a submodule name would shadow (tested against torch).
MODULE_ATTRS = frozenset(
    [
        "T_destination",
        "add_module",
        "apply",
        "bfloat16",
        "buffers",
        "call_super_init",
        "children",
        "compile",
        "cpu",
        "cuda",
        "double",
        "dump_patches",
        "eval",
        "extra_repr",
        "float",
        "forward",
        "get_buffer",
        "get_extra_state",
        "get_parameter",
        "get_submodule",
        "half",
        "ipu",
        "load_state_dict",
        "modules",
        "mtia",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "parameters",
        "register_backward_hook",
        "register_buffer",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook",
        "register_module",
        "register_parameter",
        "register_state_dict_post_hook",
        "register_state_dict_pre_hook",
        "requires_grad_",
        "set_extra_state",
        "set_submodule",
        "share_memory",
        "smart_apply",
        "state_dict",
        "to",
        "to_empty",
        "train",
        "training",
        "type",
        "xpu",
        "zero_grad",
    ]
)
# Methods of nn.Sequential (a chain is built as one) and of torch.fx.GraphModule (a graph is one).
CONTAINER_ATTRS = frozenset(
    ["append", "extend", "insert", "pop", "code", "graph", "recompile", "to_folder", "print_readable"]
)
# Attributes archspec itself sets on the modules it builds.
ANALYSIS_ATTR = "archspec_analysis"
PENALTY_METHOD = "regularization_loss"
ARCHSPEC_ATTRS = frozenset([ANALYSIS_ATTR, PENALTY_METHOD])
# Names the generated source itself uses (its imports, and `self`).
SOURCE_NAMES = frozenset(["self", "torch", "nn", "F", "math", "OrderedDict", "annotations"])
RESERVED = MODULE_ATTRS | CONTAINER_ATTRS | ARCHSPEC_ATTRS | SOURCE_NAMES | {"x", "input"}
MAX_NAME = 64

_SAFE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_DIM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _keyword(name: str) -> bool:
    return keyword.iskeyword(name) or keyword.issoftkeyword(name)


def name_problem(name: object, *, is_input: bool = False, is_node: bool = False) -> str | None:
    """Why ``name`` cannot name a node, an input, a block or a model, or None if it can.

    A node may also be named by digits alone (``"0"``, ``"1"``), as the children of torch's
    ``nn.Sequential`` are, so that state_dict keys can follow a reference (``downsample.0``), and
    ``self`` (Hugging Face's BERT: ``attention.self.query``): generated code writes it as the
    attribute ``self.self`` and never as a local variable.
    """
    if not isinstance(name, str) or not name:
        return "a name must be a non-empty string"
    if is_node and name.isascii() and name.isdigit() and len(name) <= 6 and (name == "0" or name[0] != "0"):
        return None
    if len(name) > MAX_NAME:
        return f"a name may have at most {MAX_NAME} characters"
    if name.startswith("_"):
        return "a name may not start with '_'"
    if not _SAFE.match(name):
        return "a name must be an identifier: ASCII letters, digits and '_', starting with a letter"
    if _keyword(name):
        return f"'{name}' is a Python keyword"
    if is_node and name in ("x", "input"):
        return f"'{name}' is kept for the names of inputs (of a model or a block); a node may not take it"
    if name in RESERVED and not (is_input and name in ("x", "input")) and not (is_node and name == "self"):
        return f"'{name}' is reserved (it would shadow an attribute of the torch module or generated code)"
    return None


def dim_problem(name: object) -> str | None:
    """Why ``name`` cannot be a symbolic dimension, or None if it can."""
    if not isinstance(name, str) or not _DIM.match(name) or len(name) > MAX_NAME:
        return f"a symbolic dimension is an identifier of at most {MAX_NAME} ASCII letters, digits and '_'"
    if _keyword(name) or name in ("True", "False", "None"):
        return f"'{name}' is a Python keyword"
    return None


def ident(name: str) -> str:
    """``name``, if it is safe to write as an identifier in generated code; else ValueError.

    Every code generator passes every identifier it writes through this check.
    """
    if not isinstance(name, str) or not _DIM.match(name) or _keyword(name) or len(name) > 200:
        raise ValueError(f"refusing to write {name!r} into generated code")
    return name


def attribute(name: str) -> str:
    """A module or tensor attribute name for generated code: an identifier, or the digits of a
    repeat copy (written as ``getattr(self, "0")``)."""
    if isinstance(name, str) and name.isdigit() and name.isascii() and len(name) <= 12:
        return name
    return ident(name)


def class_name(name: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """A class name for a model or block: ``basic_block`` -> ``BasicBlock``, made unique against
    ``taken`` and never a keyword, builtin or a name the generated source uses."""
    parts = [part for part in re.split(r"[^A-Za-z0-9]+", name) if part]
    base = "".join(part[:1].upper() + part[1:] for part in parts) or "Model"
    if not base[0].isalpha():
        base = "M" + base
    candidate, n = base, 1
    while (
        candidate in taken
        or _keyword(candidate)
        or hasattr(builtins, candidate)
        or candidate in SOURCE_NAMES
        or candidate in ("Module", "Sequential", "Tensor")
    ):
        n += 1
        candidate = f"{base}{n}"
    return ident(candidate)
