"""Resource guards: over-budget builds are refused from the static counts, before torch."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT

import archspec
from archspec.system.guard import parse_size

HUGE = "inputs: {x: [batch, 1000000000]}\nlayers:\n  - linear: 1000000000\n"


def test_huge_linear_is_counted_statically() -> None:
    a = archspec.analyze(archspec.load_text(HUGE))
    assert a.total_params == 10**18 + 10**9


def test_huge_linear_build_is_refused_before_torch_is_imported() -> None:
    code = (
        "import sys, archspec\n"
        f"spec = archspec.load_text({HUGE!r})\n"
        "try:\n"
        "    archspec.build(spec)\n"
        "except archspec.ArchspecError as e:\n"
        "    assert e.code == 'memory-budget', e\n"
        "    assert 'torch' not in sys.modules\n"
        "    print('refused')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "refused"


def test_meta_build_of_huge_model_allocates_nothing() -> None:
    pytest.importorskip("torch")
    model = archspec.build(archspec.load_text(HUGE), device="meta")
    assert model.linear1.weight.is_meta and model.linear1.weight.shape == (10**9, 10**9)


def test_budget_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHSPEC_MEMORY_BUDGET", "1K")
    with pytest.raises(archspec.ArchspecError) as e:
        archspec.build(ROOT / "specs" / "mlp.yaml")
    assert e.value.code == "memory-budget" and "1.0 KiB" in e.value.message
    assert parse_size("8G") == 8 * 1024**3 and parse_size("512M") == 512 * 1024**2
