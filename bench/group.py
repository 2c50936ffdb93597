"""Run one benchmark group in this process and save its rows (``bench.run`` starts one process
per group, so no group measures in a heap another has filled).

    python -m bench.group forward [--quick] [--threads 1] [--results rows.json]

Exits 1 with the traceback when the group fails or does not measure every row it declares.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from bench.core import Run
from bench.groups import GROUPS, load


def measure(name: str, quick: bool, threads: int = 1) -> Run:
    module = load(name)
    r = Run(name, module.ROWS, quick, threads)
    module.run(r)
    r.check_complete()
    for row in r.rows:
        row.profile = module.PROFILES.get(row.key, "")
    return r


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("group", choices=GROUPS)
    p.add_argument("--quick", action="store_true", help="few rounds: a smoke run")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--results", default=None, help="write the rows here as JSON")
    args = p.parse_args(argv)
    r = measure(args.group, args.quick, args.threads)
    if args.results:
        Path(args.results).write_text(json.dumps([asdict(row) for row in r.rows]), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
