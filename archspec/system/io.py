"""Atomic output: write to a temporary file in the target directory, then ``os.replace``.

A failure at any point leaves what was there before, byte for byte, and no temporary file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from archspec.errors import ArchspecError
from archspec.system.interrupts import Interrupted, deferred, received

try:
    import fcntl
except ImportError:  # not a POSIX system: no locks
    fcntl = None  # type: ignore[assignment]


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


STAGE_PREFIX = ".archspec-"  # staging folders: .archspec-XXXXXXXX inside each output folder
LOCK_NAME = ".archspec.lock"  # held (flock) while a run writes into a folder; removed after


class Transaction:
    """Several outputs, in one or more folders, that appear together or not at all.

    Entering locks each folder (``DirLock``: a second run into the same folder waits), removes
    staging folders left by runs that were killed, and makes a staging folder inside each
    folder (same filesystem). Files are written there, then each is moved over its target
    with ``os.replace``. If any step fails, or a signal arrived, targets already replaced get
    their old content back (kept as hard links) and the staging folders are removed. The
    commit and the clean-up hold SIGINT/SIGTERM until they are done.
    """

    def __init__(
        self, out: str | Path, *, also: Iterable[str | Path] = (), say: Callable[[str], None] | None = None
    ) -> None:
        self.out = Path(out)
        self.given = [self.out, *(Path(f) for f in also)]
        self.folders: dict[str, Path] = {}  # the real path of each folder -> the path as given
        self.stages: dict[str, Path] = {}
        self.staged: list[tuple[str, str]] = []
        self.locks: list[DirLock] = []
        self.created: list[Path] = []  # folders this transaction made, deepest first
        self.say = say

    @property
    def stage(self) -> Path:
        """The staging folder inside ``out``."""
        return self.stages[_key(self.out)]

    def __enter__(self) -> Transaction:
        try:
            for folder in self.given:
                self.created = _missing_folders(folder) + self.created
                _make_folder(folder)
                self.folders.setdefault(_key(folder), folder)
            # one order for every run, so two runs that share folders cannot deadlock
            for key in sorted(self.folders):
                folder = self.folders[key]
                lock = DirLock(folder, self.say)
                locked = lock.acquire()
                self.locks.append(lock)
                remove_stale_stages(folder, every=locked)
                self.stages[key] = Path(tempfile.mkdtemp(prefix=STAGE_PREFIX, dir=folder))
        except BaseException:
            self._clean(committed=False)
            raise
        return self

    def path(self, name: str, folder: str | Path | None = None) -> Path:
        """Where to write output ``name`` (a file name in ``folder``, by default ``out``)
        before the commit."""
        key = _key(self.out if folder is None else Path(folder))
        if key not in self.stages:
            raise ValueError(f"{folder} is not a folder of this transaction")
        if Path(name).name != name or name in ("", ".", "..") or name.startswith((".archspec", ".old-")):
            raise ValueError(f"output names are plain file names: {name!r}")
        self.staged.append((key, name))
        return self.stages[key] / name

    def targets(self) -> list[Path]:
        return [self.folders[key] / n for key, n in self.staged]

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        committed = False
        with deferred():
            try:
                signum = received()
                if kind is None and signum is not None:  # caught and swallowed below us
                    raise Interrupted(signum)
                if kind is None:
                    self._commit()
                    committed = True
            finally:
                self._clean(committed)

    def _clean(self, committed: bool) -> None:
        for stage in self.stages.values():
            _remove_tree(stage)
        for lock in reversed(self.locks):
            lock.release()
        self.locks.clear()
        if not committed:  # leave no empty folder behind either
            for folder in self.created:
                with contextlib.suppress(OSError):
                    folder.rmdir()

    def _commit(self) -> None:
        done: list[tuple[Path, Path | None]] = []
        try:
            for key, name in self.staged:
                stage = self.stages[key]
                target, staged = self.folders[key] / name, stage / name
                if not staged.exists():
                    continue
                backup = None
                if target.exists():
                    backup = stage / f".old-{name}"
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
                where = ", ".join(f"'{f}'" for f in self.folders.values())
                raise ArchspecError(
                    "io", f"cannot write into {where}: {e.strerror or e}; nothing was changed"
                ) from None
            raise


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ArchspecError("io", f"cannot write into '{folder}': {e.strerror}") from None


def _key(folder: Path) -> str:
    """One name per folder however it is spelled (``a/../b`` and ``b``; symbolic links)."""
    try:
        return str(folder.resolve())
    except OSError:
        return str(folder.absolute())


def _missing_folders(folder: Path) -> list[Path]:
    """The folders that creating ``folder`` would create, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


class DirLock:
    """An exclusive lock on an output folder: ``flock`` on ``folder/.archspec.lock``.

    A second run waits (saying so once) until the first is done. The holder removes the
    lock file before releasing it, so no file is left behind; a waiter that then gets the
    lock on the removed file sees that the path no longer names it and tries again. Where
    the filesystem has no ``flock``, runs are not serialized.
    """

    def __init__(self, folder: Path, say: Callable[[str], None] | None = None) -> None:
        self.path = folder / LOCK_NAME
        self.say = say
        self.fd: int | None = None

    def acquire(self) -> bool:
        """Wait for the lock; False where this system or filesystem has none."""
        if fcntl is None:
            return False
        said = False
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except FileNotFoundError:  # the run we waited for removed the folder it had made
                _make_folder(self.path.parent)
                continue
            except OSError as e:
                raise ArchspecError("io", f"cannot write into '{self.path.parent}': {e.strerror}") from None
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if self.say and not said:
                        self.say(self._waiting(fd))
                        said = True
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except OSError:  # ENOLCK, EOPNOTSUPP: no locks on this filesystem
                    os.close(fd)
                    return False
                if self._still_named(fd):
                    os.ftruncate(fd, 0)
                    os.write(fd, f"{os.getpid()}\n".encode())
                    self.fd = fd
                    return True
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)  # its holder removed it as we waited: lock the one there now

    def _still_named(self, fd: int) -> bool:
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino)

    def _waiting(self, fd: int) -> str:
        try:
            pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        except OSError:
            pid = ""
        who = f" (pid {pid})" if pid.isdigit() else ""
        return f"waiting for another archspec run{who} writing into '{self.path.parent}'..."

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self.fd)
        self.fd = None


def remove_stale_stages(folder: Path, every: bool = True) -> list[Path]:
    """Remove the staging folders that runs killed outright (SIGKILL, power loss) left in
    ``folder``. With the folder locked (``every``) no live run can own one, so all go; without
    a lock, only those older than this process."""
    removed: list[Path] = []
    started = float("inf") if every else process_start_time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(STAGE_PREFIX) or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            old = entry.stat(follow_symlinks=False).st_mtime < started
        except OSError:
            continue
        if old:
            _remove_tree(Path(entry.path))
            removed.append(Path(entry.path))
    return removed


_IMPORTED_AT = time.time()


def process_start_time() -> float:
    """When this process started (seconds since the epoch; Linux /proc, else archspec's import)."""
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        ticks = int(fields[19])  # field 22 of stat(5), counted after the command name
        with open("/proc/stat", "rb") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith(b"btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return _IMPORTED_AT


def safe_stem(text: str, limit: int = 96, keep: str = "_-") -> str:
    """A file-name stem from free text: letters, digits and the characters in ``keep`` (others
    become ``_``; no leading dot), at most ``limit`` bytes of UTF-8; a longer one is cut and
    ends in a hash of the whole, so two long names stay apart."""
    clean = "".join(c if c.isalnum() or c in keep else "_" for c in text)
    clean = clean.strip("._") or "model"
    data = clean.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return clean
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    head = data[: limit - len(digest) - 1].decode("utf-8", "ignore")
    return f"{head}-{digest}"


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
