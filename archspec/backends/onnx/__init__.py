"""ONNX export and verification (``archspec.export_onnx``).

- export.py: the entry points (``export_onnx``, ``export_analysis``): build, export, annotate,
  verify in a temporary folder beside the target, then move the files into place;
- limits.py: the checks made before torch is imported (node, time and memory bounds, opset,
  lint of every layer, the external data file's name);
- sizes.py: dynamic dims and the sizes an export traces and checks at;
- exporter.py: torch's (dynamo) exporter, called quietly, and its workarounds;
- annotate.py: archspec's knowledge in the file (metadata, dim names, node names);
- verify.py: the ONNX checker, strict shape inference, onnxruntime against torch;
- files.py: the temporary folder and the atomic install;
- report.py: ``ExportReport``, the tolerance, message formatting.

Importing this package imports neither torch nor onnx.
"""

from archspec.backends.onnx.export import ExportReport, check_limits, export_analysis, export_onnx, lint

__all__ = ["ExportReport", "check_limits", "export_analysis", "export_onnx", "lint"]
