"""archspec's benchmark harness: archspec against hand-written PyTorch, torchinfo and torch.onnx.

    python -m bench.run                     # every group; writes docs/performance.md
    python -m bench.run --quick             # every group once, few repeats: a smoke run
    python -m bench.run --only forward      # some groups (comma-separated); prints only
    python -m bench.report RESULTS.json     # the report again from saved results
    python -m bench.profile --help          # opt-in profiles of what the rows time

Layout: ``core`` (rows, timing), ``procs`` (whole-process timing through ``launch.py``),
``groups/`` (one module per group, each declaring its rows), ``group`` (runs one group in a
fresh process), ``run`` (runs the groups), ``report`` (writes docs/performance.md),
``models`` (the benchmarked specs paired with ``reference``, the hand-written modules) and
``alternatives/`` (the scripts archspec's commands are timed against).

The harness times only archspec's public entry points (``archspec.load``, ``analyze``,
``build``, ``export_onnx``, ``example_inputs`` and the ``archspec`` command).
"""
