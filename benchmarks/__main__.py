"""Run benchmarks: `python -m benchmarks` runs every peer comparison, `python -m benchmarks cfr [args]` runs one.

Registry: every module `benchmarks/bench_<name>.py` defining `main(argv: list[str]) -> None` is a
benchmark called `<name>`; adding a file is all it takes to register one. The tools for work on the
simulator kernel (`TOOLS`: an A/B against a git revision, an A/B of specialised kernels, a line-level profile that
needs `perf`, a table-access microbenchmark) run only when named.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


TOOLS = ("kernel_ab", "kernel_profile", "spec_ab", "table_access")


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(p.stem[len("bench_"):] for p in here.glob("bench_*.py"))


def main(argv: list[str]) -> int:
    names = available()
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        print("peer comparisons:", ", ".join(n for n in names if n not in TOOLS))
        print("tools (run only when named):", ", ".join(n for n in names if n in TOOLS))
        return 0
    if argv:
        name, rest = argv[0], argv[1:]
        if name not in names:
            print(f"unknown benchmark {name!r}; expected one of {names}", file=sys.stderr)
            return 2
        importlib.import_module(f"benchmarks.bench_{name}").main(rest)
        return 0
    for name in (n for n in names if n not in TOOLS):
        print(f"\n=== benchmark: {name} ===", flush=True)
        importlib.import_module(f"benchmarks.bench_{name}").main([])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
