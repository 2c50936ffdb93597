"""docs/architecture.md matches the tree: every module path it names exists, and every package
of archspec/ is on the map."""

from __future__ import annotations

import re

from conftest import ROOT

DOC = (ROOT / "docs" / "architecture.md").read_text()


def test_every_path_on_the_map_exists() -> None:
    paths = set(re.findall(r"\b((?:[a-z_]+/)+[a-z_]+\.py)\b", DOC))
    assert paths, "the map names no module"
    missing = sorted(p for p in paths if not (ROOT / "archspec" / p).exists() and not (ROOT / p).exists())
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"


def test_every_package_is_on_the_map() -> None:
    packages = sorted(p.name for p in (ROOT / "archspec").iterdir() if (p / "__init__.py").exists())
    absent = [p for p in packages if f"{p}/" not in DOC]
    assert not absent, f"packages missing from docs/architecture.md: {absent}"
