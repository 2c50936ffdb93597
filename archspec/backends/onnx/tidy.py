"""What an exported ONNX file keeps of its making: nothing of the machine that made it.

torch's exporter records, on every node, the Python stack that produced it (absolute paths of the
checkout and the virtualenv), the FX node, the module class hierarchy and name scopes, and
onnxscript's rewriter records the rule it applied. None of it describes the model, and it makes the
same spec give different bytes in another directory (issue 18). After archspec has named the nodes
from those scopes, ``tidy`` drops them, and names every intermediate tensor after the node that
makes it (``layer1.0.conv1/Conv``), so that Netron's edges read as the spec's paths.
"""

from __future__ import annotations

from typing import Any

# metadata keys of torch's exporter and onnxscript's rewriter (prefixes), and a bare one
_DROPPED_PREFIXES = ("pkg.torch.", "pkg.onnxscript.")
_DROPPED = frozenset({"namespace"})


def tidy(graph: Any) -> None:
    """Drop exporter metadata from every node (subgraphs included) and name intermediate values
    after their producing node; graph inputs, outputs and initializers keep their names."""
    import onnx_ir as ir

    keep = {v.name for v in graph.inputs} | {v.name for v in graph.outputs} | set(graph.initializers)
    taken = set(keep)
    for node in ir.traversal.RecursiveGraphIterator(graph):
        for key in [k for k in node.metadata_props if k in _DROPPED or k.startswith(_DROPPED_PREFIXES)]:
            del node.metadata_props[key]
        if node.graph is not graph or not node.name:
            continue  # a loop body's values are scoped to it: their names stay the exporter's
        outputs = [v for v in node.outputs if v is not None and v.name not in keep]
        for i, value in enumerate(outputs):
            name = node.name if len(node.outputs) == 1 else f"{node.name}:{i}"
            if name not in taken:
                value.name = name
                taken.add(name)
