"""The alternative to ``archspec check specs/resnet50.yaml``, timed as a whole process by bench/run.py:
build ResNet-50 by hand in torch (bench/reference.py) and print ``torchinfo.summary`` of it."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torchinfo
from reference import resnet50

model = resnet50()
torchinfo.summary(model, input_size=(1, 3, 224, 224))
