"""Start-up of the ``archspec`` command: ``--help`` and ``check`` of a small spec, whole process."""

from __future__ import annotations

from bench.core import Run, fmt_s, median
from bench.procs import PY, Proc, archspec_cmd, child_env, imported_modules, must, run_proc

ABOUT = "the `archspec` command's start-up, whole process"
ROWS = (
    "cli/help",
    "cli/check_mlp",
    "cli/help_no_torch",
    "cli/check_mlp_no_torch",
    "cli/check_mlp_no_bytecode",
)
PROFILES = {"cli/help": "cli --help", "cli/check_mlp": "cli check specs/mlp.yaml"}


def run(r: Run) -> None:
    rounds = r.rounds(5, 15)
    help_cmd, check_cmd = archspec_cmd("--help"), archspec_cmd("check", "specs/mlp.yaml")
    for cmd in (help_cmd, check_cmd):  # warm the bytecode and page caches
        must(run_proc(cmd), " ".join(cmd))
    must(run_proc([PY, "-c", "pass"]), "python")
    cmds = {"help": help_cmd, "check": check_cmd, "python": [PY, "-c", "pass"]}
    procs: dict[str, list[Proc]] = {key: [] for key in cmds}
    for _ in range(rounds):
        for key, cmd in cmds.items():
            procs[key].append(must(run_proc(cmd), " ".join(cmd)))
    python = median([p.seconds for p in procs["python"]])
    for key, what in (
        ("help", "`archspec --help`, whole process"),
        ("check", "`archspec check specs/mlp.yaml`, whole process"),
    ):
        cpu = median([p.cpu for p in procs[key]])
        row = r.absolute(
            "cli/help" if key == "help" else "cli/check_mlp",
            what,
            [p.seconds for p in procs[key]],
            below=0.3,
            detail=f"CPU time (user + system) {fmt_s(cpu)}; bare `python -c pass` takes {fmt_s(python)} here",
        )
        row.data.update(cpu=cpu, python=python)
    for key, cmd, what in (
        ("cli/help_no_torch", help_cmd, "`archspec --help` does not import torch"),
        ("cli/check_mlp_no_torch", check_cmd, "`archspec check specs/mlp.yaml` does not import torch"),
    ):
        torch_mods = [m for m in imported_modules(cmd) if m == "torch" or m.startswith("torch.")]
        value = "torch not imported" if not torch_mods else f"imports {len(torch_mods)} torch modules"
        r.check(key, what, not torch_mods, value)
    cold = [
        must(run_proc(check_cmd, child_env(bytecode_cache=False)), "archspec check").seconds
        for _ in range(max(3, rounds // 3))
    ]
    r.absolute(
        "cli/check_mlp_no_bytecode",
        "`archspec check specs/mlp.yaml` without a bytecode cache (PYTHONDONTWRITEBYTECODE=1)",
        cold,
        below=None,
        detail="information: archspec's own sources compiled on every run",
    )
