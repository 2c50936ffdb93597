"""The exported graph's clean-up: onnxscript's optimizer, less the two passes that hide the
model's weights.

``torch.onnx.export(optimize=True)`` runs ``onnxscript.optimizer.optimize_ir``, which folds each
batch norm into the convolution before it (the file's ``conv1.weight`` is then no longer the
module's, and the norm's weights and statistics are gone), merges initializers of equal
value (every zero bias of one size becomes one tensor) and drops a Conv's or Gemm's bias input
while it is all zeros (the file then has no ``fc.bias`` to load trained weights into). A file
so written cannot be checked against the module with other weights, nor loaded back by
``state_dict`` key. archspec exports
with ``optimize=False`` and runs the same passes here without those three, so that every
parameter and buffer the graph uses is an initializer named by its ``state_dict`` key
(``layer1.0.bn1.running_var``). onnxruntime folds batch norms itself when it loads the file.

The pass list mirrors onnxscript 0.5-0.7's ``optimize_ir`` and reaches two of its private names;
where they are missing, the public ``onnxscript.optimizer.optimize`` runs instead (verification
then says which weights it could not exercise).
"""

from __future__ import annotations

from collections.abc import Set
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx_ir


def optimize(model: onnx_ir.Model, weights: Set[str]) -> bool:
    """Optimize ``model`` in place, folding no operation that reads one of ``weights`` (the
    ``state_dict`` keys: a transposed weight stays the weight, transposed in the graph); return
    whether the weights kept their names."""
    import onnx_ir as ir
    import onnx_ir.passes.common as common
    import onnxscript.optimizer
    from onnxscript import rewriter

    try:
        from onnxscript.optimizer import _constant_folding as folding
        from onnxscript.rewriter.rules.common import _fuse_batchnorm

        rules = [
            r
            for r in rewriter._DEFAULT_REWRITE_RULES
            if r not in list(_fuse_batchnorm.rules)
            and not str(getattr(r, "name", None) or "").startswith("RemoveOptionalBias")
        ]
    except (ImportError, AttributeError, TypeError):
        onnxscript.optimizer.optimize(model)
        return False
    loop = ir.passes.PassManager(
        [
            folding.FoldConstantsPass(
                shape_inference=True,
                input_size_limit=folding.DEFAULT_CONSTANT_FOLD_INPUT_SIZE_LIMIT,
                output_size_limit=folding.DEFAULT_CONSTANT_FOLD_OUTPUT_SIZE_LIMIT,
                should_fold=lambda node: (
                    False if any(v is not None and v.name in weights for v in node.inputs) else None
                ),
            ),
            rewriter.RewritePass(rules),
            common.RemoveUnusedNodesPass(),
            common.RemoveUnusedFunctionsPass(),
            common.RemoveUnusedOpsetsPass(),
        ],
        steps=2,
        early_stop=True,
    )
    ir.passes.Sequential(
        common.InlinePass(),
        loop,
        common.RemoveUnusedNodesPass(),
        common.LiftConstantsToInitializersPass(lift_all_constants=True, size_limit=0),
        common.LiftSubgraphInitializersToMainGraphPass(),
        common.CommonSubexpressionEliminationPass(),
        common.OutputFixPass(),
        common.NameFixPass(),
    )(model)
    return True
