"""Atomic output: write to a temporary file in the target directory, then ``os.replace``.

A failure at any point leaves what was there before, byte for byte, and no temporary file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from archspec.errors import ArchspecError


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it into place if the block succeeds."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
    except OSError as e:
        raise ArchspecError("io", f"cannot write '{target}': {e.strerror}") from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _mode(target))
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _mode(target: Path) -> int:
    """Keep an existing file's mode; a new file gets the usual 0666 less the umask."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_bytes(target: str | Path, data: bytes) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(target: str | Path, text: str) -> Path:
    return write_bytes(target, text.encode("utf-8"))


def write_with(target: str | Path, writer: Callable[[Path], None]) -> Path:
    """Let ``writer`` produce the file at a temporary path, then move it into place."""
    with atomic_path(target) as tmp:
        writer(tmp)
    return Path(target)
