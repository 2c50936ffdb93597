"""Rules for node names: identifiers that are safe as module attributes."""

from __future__ import annotations

import keyword

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
RESERVED = MODULE_ATTRS | {"self", "torch", "nn", "F", "x", "input"}
MAX_NAME = 64


def name_problem(name: str, *, is_input: bool = False) -> str | None:
    """Why ``name`` cannot name a node, or None if it can."""
    if not isinstance(name, str) or not name:
        return "a name must be a non-empty string"
    if len(name) > MAX_NAME:
        return f"a name may have at most {MAX_NAME} characters"
    if not name.isascii() or not name.isidentifier():
        return "a name must be an identifier: ASCII letters, digits and '_', not starting with a digit"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"'{name}' is a Python keyword"
    if name.startswith("_"):
        return "a name may not start with '_'"
    if name in MODULE_ATTRS or (name in RESERVED and not (is_input and name in ("x", "input"))):
        return f"'{name}' is reserved (it would shadow an attribute of the torch module)"
    return None
