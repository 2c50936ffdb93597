"""Run a command and write its wall time, peak memory, exit code and CPU time to a file.

    python -I -S bench/launch.py RESULT EXECUTABLE [ARG ...]

A tiny process of its own (standard library only, no site packages) forks and execs the
command, then ``wait4`` gives the command's own rusage. A command forked from the benchmark
process (torch imported, hundreds of MB) would report that process's peak memory, which Linux
carries across exec into ``ru_maxrss``.
"""

import os
import sys
import time


def main(argv: list[str]) -> int:
    result, exe, args = argv[1], argv[2], argv[2:]
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execv(exe, args)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - t0
    cpu = usage.ru_utime + usage.ru_stime
    with open(result, "w") as f:
        f.write(f"{seconds!r} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)} {cpu!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
