"""Files: a temporary folder beside the target, moved into place only when all is well."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from archspec.errors import ArchspecError

if TYPE_CHECKING:
    import onnx_ir


def missing_folders(folder: Path) -> list[Path]:
    """The folders that creating ``folder`` would create, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def tempdir(target: Path) -> Path:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as e:
        raise ArchspecError("io", f"cannot write '{target}': {e.strerror}") from None


def install(moves: list[tuple[Path, Path]], tmpdir: Path) -> None:
    """Move each verified file onto its target (data before the model that points at it).

    Each move is atomic; if a later one fails, the targets already replaced get their
    old contents back, so the folder never holds a model with the wrong weights."""
    backups: list[tuple[Path, Path | None]] = []
    try:
        for i, (src, dst) in enumerate(reversed(moves)):
            backup = tmpdir / f".backup{i}"
            if dst.exists():
                _keep(dst, backup)
                backups.append((dst, backup))
            else:
                backups.append((dst, None))
            os.chmod(src, _mode(dst))
            os.replace(src, dst)
    except OSError as e:
        for old, kept in reversed(backups):
            with contextlib.suppress(OSError):
                if kept is None:
                    old.unlink(missing_ok=True)
                else:
                    os.replace(kept, old)
        raise ArchspecError("io", f"cannot move the ONNX file into place: {e.strerror or e}") from e


def _mode(target: Path) -> int:
    """Keep an existing file's mode; a new file gets 0666 less the umask (as archspec.system.io)."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _keep(path: Path, backup: Path) -> None:
    """A second name for ``path``'s current contents (a hard link, else a copy)."""
    try:
        os.link(path, backup)
    except OSError:
        shutil.copy2(path, backup)


def save(model: onnx_ir.Model, tmp: Path, data_name: str | None) -> None:
    import onnx_ir as ir

    try:
        ir.save(model, tmp, format="protobuf", external_data=data_name)
    except (OSError, ValueError) as e:
        raise ArchspecError("export", f"cannot write the ONNX file: {e}") from e
