"""``archspec compile`` of ResNet-18 (every artifact) against a script that builds the spec with
``archspec.build`` and exports it with ``torch.onnx.export``, both whole processes."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bench.core import BenchError, Run, fmt_range, fmt_s, median
from bench.procs import Proc, archspec_cmd, module_cmd, must, run_proc

ABOUT = "`archspec compile` of ResNet-18, every artifact, against build + `torch.onnx.export`, whole process"
ROWS = ("compile/resnet18",)
SPEC = "specs/resnet18.yaml"
ALTERNATIVE = "bench.alternatives.build_export"
PROFILES = {"compile/resnet18": f"cli compile {SPEC} -o build/profile"}


def run(r: Run) -> None:
    rounds = r.rounds(1, 5)
    tmp = Path(tempfile.mkdtemp(prefix="archspec-bench-compile-"))
    ours_dir, theirs_file = tmp / "ours", tmp / "theirs.onnx"
    ours_cmd = archspec_cmd("compile", SPEC, "-o", str(ours_dir))
    theirs_cmd = module_cmd(ALTERNATIVE, SPEC, str(theirs_file))

    def ours() -> Proc:
        shutil.rmtree(ours_dir, ignore_errors=True)
        return must(run_proc(ours_cmd), f"archspec compile {SPEC}")

    def theirs() -> Proc:
        theirs_file.unlink(missing_ok=True)
        return must(run_proc(theirs_cmd), ALTERNATIVE)

    try:
        if not r.quick:
            ours(), theirs()  # warm the caches
        a, b = [], []
        for _ in range(rounds):
            a.append(ours())
            b.append(theirs())
        written = sorted(p.name for p in ours_dir.iterdir())
        if not (ours_dir / "resnet18.onnx").exists() or not theirs_file.exists():
            raise BenchError(f"no ONNX file written: archspec wrote {written}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    cpu = [t.cpu / o.cpu for o, t in zip(a, b, strict=True)]
    r.ratio(
        "compile/resnet18",
        f"`archspec compile {SPEC}`, every artifact ({len(written)} files), whole process",
        f"`python -m {ALTERNATIVE} {SPEC} out.onnx` (`archspec.build`, then `torch.onnx.export("
        "dynamo=True, external_data=False)` with a dynamic batch), whole process",
        [p.seconds for p in a],
        [p.seconds for p in b],
        at_least_speedup=2.5,
        detail=f"archspec wrote {', '.join(written)}; by CPU time (user + system) {median(cpu):.2f}x "
        f"(per round {fmt_range(cpu, lambda v: f'{v:.2f}x')}; {fmt_s(median([p.cpu for p in a]))} vs "
        f"{fmt_s(median([p.cpu for p in b]))}); peak memory {median([p.maxrss_mb for p in a]):.0f} MB vs "
        f"{median([p.maxrss_mb for p in b]):.0f} MB",
    )
