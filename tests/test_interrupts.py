"""Stopping cleanly: signals sent to real `archspec` processes mid-run, the output-folder lock
with two processes, staging folders left by SIGKILL, and the wall-clock limit."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT

from archspec.cli import main
from archspec.errors import ArchspecError
from archspec.system.interrupts import time_limit
from archspec.system.io import LOCK_NAME, STAGE_PREFIX

OLD = "name: net\ninputs: {x: [batch, 8]}\nlayers:\n  - {name: fc, linear: 4}\n  - relu\n"
NEW = "name: net\ninputs: {x: [batch, 8]}\nlayers:\n  - {name: fc, linear: 16}\n  - tanh\n"
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
TIMEOUT = 120  # a process that outlives this is killed (and the test fails)


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry of ``folder``: a file's bytes (None for a folder)."""
    if not folder.exists():
        return {}
    return {p.name: p.read_bytes() if p.is_file() else None for p in sorted(folder.iterdir())}


def stages(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"{STAGE_PREFIX}*")) if folder.exists() else []


def compile_(spec: Path, out: Path, emit: str = "py,json,txt") -> int:
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        return main(["compile", str(spec), "-o", str(out), "--emit", emit, "--quiet"])


@contextlib.contextmanager
def archspec(*args: str, python: str | None = None) -> Iterator[subprocess.Popen[str]]:
    """An `archspec ...` process (or a Python snippet), killed if it outlives the test."""
    cmd = [sys.executable, "-c", python, *args] if python else [sys.executable, "-m", "archspec", *args]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
    guard = threading.Timer(TIMEOUT, p.kill)
    guard.start()
    try:
        yield p
    finally:
        guard.cancel()
        if p.poll() is None:
            p.kill()
        p.communicate()


def wait_for(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    """A compiled folder (the old spec), and the spec file changed since."""
    spec, out = tmp_path / "net.yaml", tmp_path / "out"
    spec.write_text(OLD)
    assert compile_(spec, out) == 0
    spec.write_text(NEW)
    return spec, out, snapshot(out)


# Signals -----------------------------------------------------------------------------------


def onnx_started(out: Path) -> bool:
    """The ONNX step has begun: its temporary folder is in the staging folder."""
    return any(s.glob(".net.onnx.*.tmp") for s in stages(out))


@pytest.mark.parametrize(
    ("sig", "when"),
    [
        (signal.SIGTERM, "staged"),  # early: building the other artifacts
        (signal.SIGINT, "staged"),
        (signal.SIGINT, "exporting"),  # inside torch's exporter (once: "torch._dynamo has no 'exc'")
    ],
)
def test_signal_during_compile_leaves_everything_as_it_was(built, sig: int, when: str) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("onnxruntime")
    spec, out, before = built
    with archspec("compile", str(spec), "-o", str(out), "--emit", "py,json,txt,onnx") as p:
        if when == "staged":
            wait_for(lambda: stages(out), "the staging folder")
        else:
            wait_for(lambda: onnx_started(out), "the ONNX step")
            time.sleep(1.0)  # into torch.onnx.export
        p.send_signal(sig)
        _, err = p.communicate()
    assert p.returncode == 128 + sig, err
    assert err.splitlines() == [f"interrupted by {signal.Signals(sig).name}"]
    assert snapshot(out) == before  # old artifacts byte-identical, no staging folder, no lock file


@pytest.mark.skipif(not (ROOT / "specs").is_dir(), reason="no specs folder")
def test_signal_during_docs_writes_nothing(tmp_path: Path) -> None:
    from archspec.backends.diagram.render import find_dot

    if find_dot() is None:
        pytest.skip("no dot program")
    gallery = tmp_path / "docs" / "gallery"
    (tmp_path / "docs").mkdir()
    with archspec("docs", "specs", "-o", str(gallery)) as p:
        wait_for(lambda: stages(gallery), "the staging folder")
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate()
    assert p.returncode == 143 and err.splitlines() == ["interrupted by SIGTERM"]
    assert sorted(os.listdir(tmp_path / "docs")) == []  # no page, and the new folder is gone


def test_sigkill_leaves_a_staging_folder_that_the_next_run_removes(built) -> None:  # type: ignore[no-untyped-def]
    spec, out, before = built
    with archspec("compile", str(spec), "-o", str(out), "--emit", "py,json,txt,onnx") as p:
        wait_for(lambda: stages(out) and any(stages(out)[0].iterdir()), "a staged artifact")
        p.kill()
        p.wait()
    left = stages(out)
    assert len(left) == 1  # SIGKILL cannot be handled
    assert compile_(spec, out) == 0  # the next run, holding the lock, removes it
    assert stages(out) == [] and set(snapshot(out)) == set(before)


def test_stale_stage_without_a_lock_is_kept_only_if_young(tmp_path: Path) -> None:
    from archspec.system.io import remove_stale_stages

    old, young = tmp_path / f"{STAGE_PREFIX}old", tmp_path / f"{STAGE_PREFIX}young"
    for d in (old, young):
        d.mkdir()
        (d / "x.py").write_text("staged")
    os.utime(old, (0, 0))  # 1970: before this process started
    assert remove_stale_stages(tmp_path, every=False) == [old]
    assert young.exists() and not old.exists()


# The lock ----------------------------------------------------------------------------------


HELD_COMMIT = (  # `archspec ...` whose first os.replace waits until the file named by $GO exists
    "import os, sys, time\n"
    "real = os.replace\n"
    "def held(*a, **k):\n"
    "    while not os.path.exists(os.environ['GO']):\n"
    "        time.sleep(0.02)\n"
    "    return real(*a, **k)\n"
    "os.replace = held\n"
    "from archspec.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def test_two_concurrent_compiles_never_interleave(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, out, go = tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "out", tmp_path / "go"
    a.write_text(OLD)  # both specs are named 'net': the same artifact names
    b.write_text(NEW)
    monkeypatch.setitem(ENV, "GO", str(go))
    emit = ["--emit", "py,json,txt,dot,mmd"]
    with archspec("compile", str(a), "-o", str(out), *emit, "--quiet", python=HELD_COMMIT) as first:
        wait_for(lambda: stages(out), "the first run's staging folder")  # it holds the lock
        with archspec("compile", str(b), "-o", str(out), *emit) as second:
            assert second.stderr is not None
            waiting = second.stderr.readline()  # blocks until it says it waits
            assert waiting.startswith(f"waiting for another archspec run (pid {first.pid}) writing into")
            now = snapshot(out)  # nothing written yet: the first run's lock and staging folder
            assert now.pop(LOCK_NAME) == f"{first.pid}\n".encode() and list(now.values()) == [None]
            go.touch()  # the first run may now write; the second is waiting for it
            second.communicate()
            first.communicate()
            assert first.returncode == 0 and second.returncode == 0
    files = snapshot(out)  # and no lock file left behind
    assert sorted(files) == ["net.dot", "net.mmd", "net.py", "net.summary.json", "net.summary.txt"]
    # every artifact is the second run's: it waited, then replaced the whole set
    assert b"nn.Linear(in_features=8, out_features=16)" in files["net.py"] and b"nn.Tanh()" in files["net.py"]
    assert b'"total_params": 144' in files["net.summary.json"]
    assert b"Tanh" in files["net.summary.txt"]
    assert "Linear → 16".encode() in files["net.dot"] and "Linear → 16".encode() in files["net.mmd"]


# Wall-clock limits ---------------------------------------------------------------------------


def busy(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(100))


def expired() -> ArchspecError:
    return ArchspecError("limit", "stopped")


def test_time_limit_stops_python_code() -> None:
    with pytest.raises(ArchspecError, match="stopped"), time_limit(0.2, expired):
        busy(60)


def test_time_limit_stops_code_that_swallows_the_exception() -> None:
    with pytest.raises(ArchspecError, match="stopped"), time_limit(0.2, expired):
        for _ in range(3):  # a library that catches everything and tries another way
            with contextlib.suppress(BaseException):
                busy(60)


def test_time_limit_in_a_thread_and_no_stray_exception_after() -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with time_limit(0.2, expired):
                busy(60)
        except ArchspecError as e:
            errors.append(e)
        with time_limit(5, expired):  # finishes in time: nothing raised later either
            busy(0.1)
        busy(1.5)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert [e.code for e in errors] == ["limit"]


def test_onnx_time_limit_ends_cleanly(built) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("onnxruntime")
    spec, out, before = built
    with archspec("compile", str(spec), "-o", str(out), "--onnx-timeout", "0.5") as p:
        _, err = p.communicate()
    assert p.returncode == 1, err
    assert err.startswith(
        "error[limit]: the ONNX export of model 'net' was stopped after its time limit of 0.5 s"
    )
    assert "Traceback" not in err and len(err.splitlines()) == 2  # the message and its hint
    assert snapshot(out) == before
