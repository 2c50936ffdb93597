"""The alternative to ``archspec check specs/resnet50.yaml``: build ResNet-50 by hand in torch
(bench/reference.py) and print ``torchinfo.summary`` of it.

    python -m bench.alternatives.torchinfo_resnet50
"""

import torchinfo

from bench.reference import resnet50

if __name__ == "__main__":
    model = resnet50()
    torchinfo.summary(model, input_size=(1, 3, 224, 224))
