"""Write docs/performance.md from a run's results.

    python -m bench.report [RESULTS.json] [--out docs/performance.md]

Everything on the page comes from the results (build/bench/results.json by default) and the
text below, which describes the method, not any one run's numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import groups
from bench.core import Row
from bench.procs import ROOT

DOC = ROOT / "docs" / "performance.md"
RESULTS = ROOT / "build" / "bench" / "results.json"

INTRO = """\
archspec measured against what it replaces: a hand-written PyTorch module, `torchinfo`, and
`torch.onnx.export` called directly. Every number below comes from one run of the benchmark
harness in `bench/` on the code of the commit named under Machine; the hand-written reference
modules are in `bench/reference.py`, the scripts archspec's commands are timed against in
`bench/alternatives/`."""

REGENERATE = """\
```
python -m bench.run --note "..."        # every group (about 15-25 minutes); writes this page
python -m bench.report                  # this page again from build/bench/results.json
python -m bench.run --quick             # every group once with few repeats: a smoke run, prints only
python -m bench.run --only compile      # some groups, prints only (--doc PATH writes a page)
python -m bench.profile --help          # profiles of what a row times (opt-in, never in a run)
```

Run them from the repository root with the interpreter that has archspec's `dev` extras; the
harness puts this checkout first on the path of every process it starts."""

METHOD = """\
- **Only public entry points are timed**: `archspec.load`, `analyze`, `build`, `export_onnx`,
  `example_inputs` and the `archspec` command, against torchinfo, `torch.onnx.export` and the
  hand-written modules. Each group (`bench/groups/<group>.py`) declares its rows; a group that
  fails or measures fewer rows fails the whole run, and this page is then not rewritten.
- **Each group runs in a fresh process** (`python -m bench.group <group>`), so no measurement
  runs in a heap that an earlier group filled with models.
- **Ratios are taken in one run, interleaved.** archspec and the alternative run alternately
  (A, B, A, B, ...) for several rounds; a row's value is the median of the per-round ratios, its
  spread their range (min–max over n rounds: n is the number of repeats). Absolute targets give
  the median and the range.
- **CPU time decides the in-process ratios; wall-clock time is shown beside it.** On a shared
  machine another process holding a core inflates wall time at random, while the process's CPU
  time (`time.process_time`) leaves that out. With one torch thread all work runs on the calling
  thread, so CPU time is the work done. The ONNX rows are the exception (below).
- **Whole-process rows** time the installed `archspec` command (or the alternative script) from
  spawn to exit, wall clock, as the targets say; CPU time (user + system) and peak memory (the
  process's own `ru_maxrss`, from `wait4` in the small launcher `bench/launch.py`) come from the
  same runs. Processes run with a bytecode cache kept outside the repository
  (`PYTHONPYCACHEPREFIX`), the normal state of an installed package; one row shows the cost
  without it. Each command runs once untimed first.
- **Forward** compares `archspec.build(...)` with the hand-written module after loading the same
  `state_dict` into it; each pair is checked first (equal parameter counts, identical outputs).
  `eval()`, `torch.no_grad()`, warm-up calls, then many calls per round.
- **Build** times `archspec.build(spec, seed=0)` on a loaded spec against
  `torch.manual_seed(0); Reference()`.
- **ONNX** compares the `export_seconds` of the report `archspec.export_onnx` returns (building the
  module to the saved file, without the verification that follows) with the wall time of
  `torch.onnx.export(module, args, f, dynamo=True, dynamic_shapes=..., external_data=False)` called
  directly on an archspec-built module, traced at the same sizes with the same dynamic dims. The
  report gives wall time only, so these rows are decided by wall time. Both paths are warmed up
  once first; verification and the whole call's CPU time are shown apart.
- **Compile** times `archspec compile specs/resnet18.yaml -o DIR` (every artifact the installed
  backends can write) against `python -m bench.alternatives.build_export`, a script that runs
  `archspec.build` and then `torch.onnx.export(dynamo=True, external_data=False)` with a dynamic
  batch: both whole processes, interleaved.
- **Scaling** generates specs as text: a chain of `linear`/`relu`, and nested blocks (a stage of
  8 residual blocks of `linear`, `relu`, `add`, repeated). Each round runs the 1k spec several
  times, then the 10k one. "analyze" rows call `archspec.analyze` again and again on one loaded
  spec, "load + analyze" rows start from the text.
- Nothing asserts on time. A missed target lists the `python -m bench.profile` command that
  profiles what the row times."""


def table_text(rows: Sequence[Row]) -> str:
    """The rows as a plain-text table, for the terminal."""
    head = ("measured", "value", "target", "met")
    body = [(r.what, r.value, r.target or "—", {True: "yes", False: "NO", None: "info"}[r.met]) for r in rows]
    widths = [min(70, max(len(x[i]) for x in [head, *body])) for i in range(4)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c[:w].ljust(w) for c, w in zip(cells, widths, strict=True))

    return "\n".join([line(head), line(["-" * w for w in widths]), *[line(b) for b in body]])


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(results: dict[str, Any]) -> str:
    rows = [Row(**row) for row in results["rows"]]
    errors: list[str] = results["errors"]
    kind = "quick (few repeats: a smoke run, not a measurement)" if results["quick"] else "full"
    load = results["load"]
    md = ["# Performance", "", INTRO, "", "## Machine", "", "| | |", "|---|---|"]
    md += [f"| {k} | {_cell(v)} |" for k, v in results["info"]]
    md.append(f"| Load average | {load[0]} at the start, {load[-1]} at the end (1/5/15 minutes) |")
    if results.get("note"):
        md.append(f"| Note | {_cell(results['note'])} |")
    minutes = ", ".join(f"{g} {s / 60:.1f}" for g, s in results["seconds"].items())
    md += [f"| Run | {kind}; {results['elapsed'] / 60:.1f} minutes ({minutes}) |", ""]
    busy = _busy(results)
    if busy:
        md += [busy, ""]
    md += ["## Regenerate", "", REGENERATE, "", "## Method", "", METHOD, ""]
    md += ["## Summary", "", *_summary(rows, errors), ""]
    md += ["## Results", "", "| # | group | measured | against | value | target | met | spread |"]
    md.append("|---|---|---|---|---|---|---|---|")
    for i, r in enumerate(rows, 1):
        met = {True: "yes", False: "**no**", None: "—"}[r.met]
        cells = [str(i), r.group, r.what, r.against, r.value, r.target or "—", met, r.spread]
        md.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    md += ["", "Details, by row:", ""]
    md += [f"{i}. {r.detail}" for i, r in enumerate(rows, 1) if r.detail]
    md += ["", "## Groups", "", "| group | what it measures | rows |", "|---|---|---|"]
    for g in groups.GROUPS:
        module = groups.load(g)
        md.append(f"| `{g}` | {_cell(module.ABOUT)} | {len(module.ROWS)} |")
    if errors:
        md += ["", "## Could not measure", ""] + [f"- {e}" for e in errors]
    return "\n".join(md).rstrip() + "\n"


def _busy(results: dict[str, Any]) -> str:
    """A warning when the load average passed the number of cores during the run."""
    cpu = dict(results["info"]).get("CPU", "")
    cores = re.search(r"(\d+) logical cores", cpu)
    loads = [float(x) for avg in results["load"] for x in avg.split("/") if x != "?"]
    if not cores or not loads or max(loads) <= int(cores.group(1)):
        return ""
    return (
        f"**The machine was busy**: the load average reached {max(loads):g} on {cores.group(1)} cores, so "
        "other processes held the cores for much of the run. Wall-clock times (the whole-process rows, "
        "the ONNX rows, the absolute times) are inflated and their spreads wide; the CPU times in the "
        "details are the steadier reading."
    )


def _summary(rows: Sequence[Row], errors: Sequence[str]) -> list[str]:
    targets = [r for r in rows if r.met is not None]
    missed = [(i, r) for i, r in enumerate(rows, 1) if r.met is False]
    out = [f"{len(targets) - len(missed)} of {len(targets)} targets met."]
    if missed:
        out += ["", "Missed (with the command that profiles what the row times):", ""]
        for i, r in missed:
            how = f"; `python -m bench.profile {r.profile}`" if r.profile else ""
            out.append(f"- #{i} {r.what}: {r.value} (target {r.target}){how}")
    if errors:
        out += ["", f"{len(errors)} group(s) could not be measured (see the end): this run is incomplete."]
    return out


def write(path: Path, text: str) -> None:
    """Write atomically: a temporary file beside ``path``, then ``os.replace``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", nargs="?", default=str(RESULTS), help=f"default {RESULTS}")
    p.add_argument("--out", default=str(DOC), help=f"default {DOC}")
    args = p.parse_args(argv)
    results = json.loads(Path(args.results).read_text(encoding="utf-8"))
    write(Path(args.out), render(results))
    print(f"wrote {args.out} from {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
