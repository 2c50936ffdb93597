"""The benchmark groups, one module each, in report order.

Each module declares ``ROWS`` (the keys of the rows it measures, every one of them on every
run, quick or full), ``ABOUT`` (one line for the report) and ``run(r: bench.core.Run)``. A group
imports torch and archspec inside ``run`` only, so listing the groups stays cheap.
"""

from __future__ import annotations

import importlib
from types import ModuleType

GROUPS = (
    "cli",
    "check_resnet50",
    "analyze_resnet50",
    "gpt3",
    "forward",
    "build",
    "onnx",
    "compile",
    "scaling",
)


def load(name: str) -> ModuleType:
    if name not in GROUPS:
        raise ValueError(f"unknown group {name!r}; choose from {', '.join(GROUPS)}")
    return importlib.import_module(f"bench.groups.{name}")
