"""Budgets of `compile`/`build`: memory (weights, example inputs, activations; the process's
limits), the ONNX step's node bound, safe output names, and the hostile I/O corpus."""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

import archspec
from archspec.backends.onnx import limits as onnx_limits
from archspec.cli import main
from archspec.errors import ArchspecError
from archspec.system import guard

HOSTILE = ROOT / "tests" / "hostile_io"
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "ARCHSPEC_MEMORY_BUDGET": "8G"}


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env or ENV, timeout=120
    )


def spec_file(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# Memory -------------------------------------------------------------------------------------


def test_huge_input_is_refused_before_torch_is_imported() -> None:
    """(The node bound is checked in the same place, before the memory budget.)"""
    r = python(
        "import sys\n"
        "from archspec.cli import main\n"
        "code = main(['compile', 'tests/hostile_io/huge_input.yaml', '-o', '/nonexistent/out', "
        "'--emit', 'onnx', '--quiet'])\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "sys.exit(code)\n"
    )
    assert r.returncode == 1, r.stderr
    first = r.stderr.splitlines()[0]
    assert first.startswith(
        "error[memory-budget]: node 'x': the ONNX export of model 'huge_input' needs about"
    )
    assert "at batch=3" in first and "over the budget of 8.0 GiB (ARCHSPEC_MEMORY_BUDGET)" in first
    assert "the largest input, 'x', is float32[3, 1000000000]: 11.2 GiB" in first
    assert "Traceback" not in r.stderr


def test_forward_need_is_exact_against_torch(tmp_path: Path) -> None:
    """Inputs and activations as archspec counts them equal the bytes of the tensors torch makes."""
    torch = pytest.importorskip("torch")
    spec = archspec.load(ROOT / "specs" / "lenet5.yaml")
    a = archspec.analyze(spec)
    need = guard.forward_need(a, {"batch": 3}, weight_copies=3)
    model = archspec.build(spec)
    outputs: list[int] = []
    for m in model.modules():
        if not list(m.children()):  # a layer
            m.register_forward_hook(lambda _m, _i, o: outputs.append(o.numel() * o.element_size()))
    (x,) = archspec.example_inputs(spec, sizes={"batch": 3})
    with torch.no_grad():
        model(x)
    assert need.inputs == {"image": x.numel() * x.element_size()}
    assert need.activations == sum(outputs)
    weights = sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])
    assert need.weights == 3 * weights
    assert need.total == 3 * weights + x.numel() * 4 + sum(outputs)


def test_budget_honours_rlimit_as() -> None:
    """Under a 768 MiB address-space headroom, the default budget is at most half of it, and a
    build of 400 MB of weights is refused (before torch), where the machine alone would allow it."""
    code = (
        "import resource, sys\n"
        "from archspec.system import guard\n"
        "import archspec\n"
        "status = guard._proc_status()\n"
        "_, hard = resource.getrlimit(resource.RLIMIT_AS)\n"
        "resource.setrlimit(resource.RLIMIT_AS, (status['VmSize'] + 640 * 2**20, hard))\n"
        "room = guard.headroom()\n"
        "assert room.source == 'RLIMIT_AS', room\n"
        "assert 600 * 2**20 < room.bytes <= 640 * 2**20, room\n"
        "assert guard.default_budget() == room.bytes // 2\n"
        "spec = archspec.load(sys.argv[1])\n"
        "try:\n"
        "    archspec.build(spec)\n"
        "except archspec.ArchspecError as e:\n"
        "    assert e.code == 'memory-budget' and 'RLIMIT_AS' in e.message, e\n"
        "    assert 'torch' not in sys.modules\n"
        "    print('refused')\n"
    )
    env = {k: v for k, v in ENV.items() if k != "ARCHSPEC_MEMORY_BUDGET"}
    if guard.available_memory() < 2 * 10**9:
        pytest.skip("this machine alone would refuse 400 MB")
    spec = "inputs: {x: [batch, 10000]}\nlayers:\n  - linear: 10000\n"  # 100,010,000 params
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"archspec-rlimit-{os.getpid()}.yaml"
    path.write_text(spec)
    try:
        r = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env, timeout=120
        )
    finally:
        path.unlink()
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "refused"


def write_cgroup(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_cgroup_v2_headroom_is_the_least_up_the_tree(tmp_path: Path) -> None:
    mnt = tmp_path / "cg"
    write_cgroup(
        mnt,
        {
            "memory.max": "max\n",  # the root: no limit
            "user.slice/memory.max": str(4 * 2**30),
            "user.slice/memory.current": str(3 * 2**30),  # 1 GiB left here
            "user.slice/memory.stat": "anon 1\ninactive_file 0\n",
            "user.slice/job/memory.max": str(2 * 2**30),
            "user.slice/job/memory.current": str(2**30),
            "user.slice/job/memory.stat": "anon 1\ninactive_file 268435456\n",  # cache counts as free
        },
    )
    cgroup = spec_file(tmp_path, "0::/user.slice/job\n", "cgroup")
    mountinfo = spec_file(tmp_path, f"30 23 0:26 / {mnt} rw,nosuid - cgroup2 cgroup2 rw\n", "mountinfo")
    assert guard.cgroup_headroom(cgroup, mountinfo) == 2**30  # the parent's 1 GiB < job's 1.25 GiB
    (mnt / "user.slice/memory.max").write_text("max\n")
    assert guard.cgroup_headroom(cgroup, mountinfo) == 2 * 2**30 - (2**30 - 2**28)


def test_cgroup_v1_headroom_and_no_limit(tmp_path: Path) -> None:
    mnt = tmp_path / "memory"
    write_cgroup(
        mnt,
        {
            "memory.limit_in_bytes": "9223372036854771712\n",  # v1's "no limit"
            "memory.usage_in_bytes": "5\n",
            "process_api/abc/memory.limit_in_bytes": str(3 * 2**30),
            "process_api/abc/memory.usage_in_bytes": str(2**30),
            "process_api/abc/memory.stat": "cache 9\ntotal_inactive_file 1024\n",
        },
    )
    cgroup = spec_file(tmp_path, "9:name=systemd:/\n4:memory:/process_api/abc\n0::/\n", "cgroup")
    mountinfo = spec_file(
        tmp_path,
        f"31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n35 31 0:32 / {mnt} rw - cgroup cgroup rw,memory\n",
        "mountinfo",
    )
    assert guard.cgroup_headroom(cgroup, mountinfo) == 2 * 2**30 + 1024
    (mnt / "process_api/abc/memory.limit_in_bytes").write_text("9223372036854771712\n")
    assert guard.cgroup_headroom(cgroup, mountinfo) is None
    assert guard.cgroup_headroom(tmp_path / "missing", mountinfo) is None


# The ONNX step's node bound -------------------------------------------------------------------

CHAIN = "name: chain\ninputs: {x: [batch, 4]}\nlayers:\n" + "  - linear: 4\n  - relu\n" * 6  # 12 layers


def test_node_bound_and_how_to_raise_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from archspec.backends.onnx import check_limits

    a = archspec.analyze(archspec.load(spec_file(tmp_path, CHAIN)))
    with pytest.raises(ArchspecError) as e:
        check_limits(a, max_nodes=11)
    assert e.value.code == "limit" and e.value.got == "12"
    assert "--onnx-max-nodes" in (e.value.hint or "") and onnx_limits.MAX_NODES_ENV in (e.value.hint or "")
    check_limits(a, max_nodes=12)
    monkeypatch.setenv(onnx_limits.MAX_NODES_ENV, "11")
    with pytest.raises(ArchspecError, match="12 layer nodes"):
        check_limits(a)
    monkeypatch.setenv(onnx_limits.MAX_NODES_ENV, "many")
    with pytest.raises(ArchspecError, match="is not a number of nodes"):
        check_limits(a)
    assert onnx_limits.DEFAULT_MAX_NODES == 5000


def test_onnx_timeout_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert onnx_limits.timeout() == onnx_limits.DEFAULT_TIMEOUT == 300
    assert onnx_limits.timeout(0) is None and onnx_limits.timeout(2.5) == 2.5
    monkeypatch.setenv(onnx_limits.TIMEOUT_ENV, "0")
    assert onnx_limits.timeout() is None
    for bad in ("soon", "-1", "nan", "inf"):
        monkeypatch.setenv(onnx_limits.TIMEOUT_ENV, bad)
        with pytest.raises(ArchspecError):
            onnx_limits.timeout()


# Output names --------------------------------------------------------------------------------


def test_long_spec_name_gives_a_safe_stem(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, err = run(
        ["compile", str(HOSTILE / "long_name.yaml"), "-o", str(out), "--emit", "py,json", "--quiet"]
    )
    assert code == 0, err
    names = sorted(p.name for p in out.iterdir())
    stem = "n" * 85 + "-" + names[0].split("-")[1].split(".")[0]
    assert names == [f"{stem}.py", f"{stem}.summary.json"]
    assert len(stem) == 96 and all(c in "0123456789abcdef" for c in stem[86:])


def test_safe_stem() -> None:
    from archspec.system.io import safe_stem

    assert safe_stem("resnet18") == "resnet18" and safe_stem("../../etc/evil") == "etc_evil"
    assert safe_stem("") == "model" and safe_stem("v1.5", keep="_-.") == "v1.5"
    long_a, long_b = safe_stem("é" * 300), safe_stem("é" * 299 + "e")
    assert long_a != long_b and len(long_a.encode()) <= 96 and len(long_b.encode()) <= 96


# The hostile I/O corpus ----------------------------------------------------------------------


def corpus() -> list[tuple[list[str], int, str | None]]:
    cases = []
    for line in (HOSTILE / "EXPECT").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            args, _, expect = line.partition("=>")
            code, *err = expect.split()
            cases.append((shlex.split(args), int(code), err[0] if err else None))
    return cases


@pytest.mark.parametrize(("args", "code", "error"), corpus(), ids=[" ".join(c[0]) for c in corpus()])
def test_hostile_io_corpus(
    args: list[str], code: int, error: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if args[0] == "docs":
        from archspec.backends.diagram.render import find_dot

        if find_dot() is None:
            pytest.skip("no dot program")
    monkeypatch.chdir(HOSTILE)
    monkeypatch.setenv("ARCHSPEC_MEMORY_BUDGET", "8G")
    out = tmp_path / "out"
    got, _, err = run([*args, "-o", str(out)] if args[0] != "check" else args)
    assert got == code, err
    assert "Traceback" not in err and "internal error" not in err
    if error is not None:
        assert f"error[{error}]" in err
    if code != 0:
        assert not out.exists() and not out.with_suffix(".md").exists()  # nothing written
    elif args[0] != "check":
        assert out.exists() and not list(out.glob(".archspec*"))
