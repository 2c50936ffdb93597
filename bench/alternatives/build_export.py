"""The alternative to ``archspec compile SPEC``: ``archspec.build`` the spec, then export it with
``torch.onnx.export(dynamo=True, external_data=False)``, its symbolic input dims dynamic.

    python -m bench.alternatives.build_export SPEC OUT.onnx
"""

import sys
import warnings

import torch

import archspec
from bench.models import dynamic_shapes


def main(argv: list[str]) -> int:
    spec_path, out = argv
    spec = archspec.load(spec_path)
    module = archspec.build(spec, seed=0).eval()
    sizes, dynamic = dynamic_shapes(spec)
    args = archspec.example_inputs(spec, sizes=sizes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, out, dynamo=True, dynamic_shapes=dynamic, external_data=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
