#!/usr/bin/env python
"""How long `archspec lsp` takes to answer, as an editor sees it (prints a table; asserts nothing).

    python bench/lsp_latency.py [--rounds 20] [--spec specs/resnet50.yaml]

The server runs as a subprocess spoken to over stdio (``archspec.lsp.client``). A diagnostics
round trip is the time from sending ``didChange`` to receiving that version's
``publishDiagnostics``; it includes the server's debounce (it waits for a pause in typing before
checking). The edits alternate between a version with one shape mismatch in the last layer and
the correct spec. ``archspec.load_text`` + ``analyze`` is also timed in process, for scale.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import archspec  # noqa: E402
from archspec.lsp.client import Client  # noqa: E402  # a protocol driver, as an editor would be


def ms(values: list[float]) -> str:
    values = sorted(v * 1000 for v in values)
    return f"{statistics.median(values):7.1f}  ({values[0]:.1f}-{values[-1]:.1f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--spec", default="specs/resnet50.yaml")
    args = parser.parse_args()
    spec = ROOT / args.spec
    good = spec.read_text()
    lines = good.splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if "linear" in line)
    bad = "".join([*lines[:last], "  - {name: fc, linear: 10, inputs: maxpool}\n", *lines[last + 1 :]])

    inproc: dict[str, list[float]] = {"good": [], "bad": []}
    for _ in range(args.rounds):
        for name, text in (("good", good), ("bad", bad)):
            t0 = time.perf_counter()
            try:
                archspec.analyze(archspec.load_text(text, name=str(spec)))
                failed = False
            except archspec.ArchspecError:
                failed = True
            inproc[name].append(time.perf_counter() - t0)
            assert failed == (name == "bad")

    client = Client([sys.executable, "-m", "archspec", "lsp"], cwd=ROOT)
    client.initialize(ROOT)
    uri = spec.as_uri()
    t0 = time.perf_counter()
    client.open(uri, good)
    client.diagnostics(uri, 1)
    first = time.perf_counter() - t0
    trips: dict[str, list[float]] = {"good": [], "bad": []}
    hovers = []
    version = 1
    for _ in range(args.rounds):
        for name, text in (("bad", bad), ("good", good)):
            version += 1
            t0 = time.perf_counter()
            client.replace(uri, text, version)
            diags = client.diagnostics(uri, version)
            trips[name].append(time.perf_counter() - t0)
            assert bool(diags) == (name == "bad"), diags
        t0 = time.perf_counter()
        hover = client.at(uri, "textDocument/hover", last, 8)
        hovers.append(time.perf_counter() - t0)
        assert hover is not None
    client.close()

    print(f"archspec lsp latency on {args.spec} ({len(lines)} lines), {args.rounds} rounds")
    print("  milliseconds: median (range)")
    print(f"  open -> first diagnostics (server cold)        {first * 1000:7.1f}")
    print(f"  change -> diagnostics, one error               {ms(trips['bad'])}")
    print(f"  change -> diagnostics, clean                   {ms(trips['good'])}")
    print(f"  hover (document already checked)               {ms(hovers)}")
    print(f"  load_text + analyze, one error                 {ms(inproc['bad'])}")
    print(f"  load_text + analyze, clean                     {ms(inproc['good'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
