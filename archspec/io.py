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


class Transaction:
    """Several outputs that appear together or not at all.

    Files are written into a staging folder inside ``out`` (same filesystem), then each is
    moved over its target with ``os.replace``. If any step fails, targets already replaced
    get their old content back (kept as hard links) and the staging folder is removed.
    """

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.staged: list[str] = []
        self.stage = Path()

    def __enter__(self) -> Transaction:
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            self.stage = Path(tempfile.mkdtemp(prefix=".archspec-", dir=self.out))
        except OSError as e:
            raise ArchspecError("io", f"cannot write into '{self.out}': {e.strerror}") from None
        return self

    def path(self, name: str) -> Path:
        """Where to write output ``name`` (a file name in ``out``) before the commit."""
        if Path(name).name != name or name.startswith("."):
            raise ValueError(f"output names are plain file names: {name!r}")
        self.staged.append(name)
        return self.stage / name

    def targets(self) -> list[Path]:
        return [self.out / n for n in self.staged]

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        try:
            if kind is None:
                self._commit()
        finally:
            _remove_tree(self.stage)

    def _commit(self) -> None:
        done: list[tuple[Path, Path | None]] = []
        try:
            for name in self.staged:
                target, staged = self.out / name, self.stage / name
                if not staged.exists():
                    continue
                backup = None
                if target.exists():
                    backup = self.stage / f".old-{name}"
                    os.link(target, backup)
                os.chmod(staged, _mode(target))
                os.replace(staged, target)
                done.append((target, backup))
        except BaseException as e:
            for target, backup in reversed(done):
                if backup is None:
                    target.unlink(missing_ok=True)
                else:
                    os.replace(backup, target)
            if isinstance(e, OSError):
                raise ArchspecError(
                    "io", f"cannot write into '{self.out}': {e.strerror or e}; nothing was changed"
                ) from None
            raise


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
