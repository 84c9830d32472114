"""Fuzz crisislab's readers: `python -m fuzz [--cases N] [--kinds scenario,efg,timeline] [--jobs J]`.

Reads N mutants of each kind (fuzz/_cases.py) in worker processes, each case under a timeout
(`--timeout`, default 10 s: a case that takes longer is a hang, and its worker is replaced) and an
address-space limit (`--max-gib`, default 4: a case that needs more dies, and counts as a crash),
and prints the count of every outcome by kind: valid, located error, failure, hang, crash; then
the distinct failures with a seed to reproduce each (`python -m fuzz --show KIND SEED` prints the
mutant). Exit status 1 if any case was not valid or located.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time

from fuzz._cases import KINDS, make_case, run_case


def _worker(conn, max_bytes: int, directory: str) -> None:  # type: ignore[no-untyped-def]
    if max_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))
    while True:
        job = conn.recv()
        if job is None:
            return
        kind, seed = job
        t0 = time.perf_counter()
        _, text = make_case(kind, seed)
        outcome, detail = run_case(kind, text, directory)
        conn.send((outcome, detail, time.perf_counter() - t0))


class _Pool:
    """Workers that each read one case at a time; a worker that hangs or dies is replaced."""

    def __init__(self, jobs: int, max_bytes: int, directory: str) -> None:
        self.ctx = mp.get_context("fork")
        self.max_bytes, self.directory = max_bytes, directory
        self.slots = [self._start() for _ in range(jobs)]

    def _start(self):  # type: ignore[no-untyped-def]
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=_worker, args=(child, self.max_bytes, self.directory), daemon=True)
        proc.start()
        child.close()
        return [proc, parent, None, 0.0]  # process, pipe, current job, start time

    def run(self, jobs: list[tuple[str, int]], timeout: float, report) -> None:  # type: ignore[no-untyped-def]
        pending = list(reversed(jobs))
        busy = 0
        while pending or busy:
            for slot in self.slots:
                if slot[2] is None and pending:
                    slot[2], slot[3] = pending.pop(), time.monotonic()
                    slot[1].send(slot[2])
                    busy += 1
            time.sleep(0.002)
            for i, slot in enumerate(self.slots):
                proc, conn, job, t0 = slot
                if job is None:
                    continue
                if conn.poll():
                    try:
                        outcome, detail, elapsed = conn.recv()
                    except (EOFError, OSError):
                        outcome, detail, elapsed = "crash", f"worker died (exit code {proc.exitcode})", 0.0
                        self._replace(i)
                    else:
                        slot[2] = None
                        if elapsed > timeout:
                            outcome, detail = "hang", f"took {elapsed:.1f} s"
                    report(job, outcome, detail)
                    busy -= 1
                elif not proc.is_alive():
                    report(job, "crash", f"worker died (exit code {proc.exitcode})")
                    self._replace(i)
                    busy -= 1
                elif time.monotonic() - t0 > timeout:
                    report(job, "hang", f"no answer in {timeout:g} s")
                    self._replace(i)
                    busy -= 1

    def _replace(self, i: int) -> None:
        proc = self.slots[i][0]
        if proc.is_alive():
            proc.kill()
        proc.join()
        self.slots[i] = self._start()

    def close(self) -> None:
        for proc, conn, _, _ in self.slots:
            try:
                conn.send(None)
            except OSError:
                pass
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=10_000, help="mutants of each kind (default 10,000)")
    ap.add_argument("--kinds", default=",".join(KINDS), help="comma-separated: scenario, efg, timeline")
    ap.add_argument("--start", type=int, default=0, help="first seed (default 0)")
    ap.add_argument("--jobs", type=int, default=max(1, min(2, os.cpu_count() or 1)), help="worker processes")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per case before it is a hang")
    ap.add_argument("--max-gib", type=float, default=4.0, help="address space per worker (0: no limit)")
    ap.add_argument("--show", nargs=2, metavar=("KIND", "SEED"), help="print one mutant and its outcome")
    args = ap.parse_args(argv)

    if args.show:
        kind, seed = args.show[0], int(args.show[1])
        name, text = make_case(kind, seed)
        sys.stdout.write(text if len(text) < 20_000 else text[:20_000] + f"\n... ({len(text):,} characters)\n")
        print(f"# {kind} seed {seed}, from {name}: {run_case(kind, text)}", file=sys.stderr)
        return 0

    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    for k in kinds:
        if k not in KINDS:
            ap.error(f"unknown kind {k!r}; expected some of {', '.join(KINDS)}")
    counts: dict[str, collections.Counter] = {k: collections.Counter() for k in kinds}
    bad: dict[tuple[str, str, str], int] = {}
    done = [0]
    total = args.cases * len(kinds)
    t_start = time.monotonic()

    def report(job, outcome, detail):  # type: ignore[no-untyped-def]
        kind, seed = job
        counts[kind][outcome] += 1
        if outcome not in ("valid", "located"):
            bad.setdefault((kind, outcome, detail), seed)
        done[0] += 1
        if done[0] % 500 == 0:
            print(f"  {done[0]:,}/{total:,} cases, {time.monotonic() - t_start:.0f} s", file=sys.stderr, flush=True)

    jobs = [(k, s) for s in range(args.start, args.start + args.cases) for k in kinds]
    with tempfile.TemporaryDirectory(prefix="crisislab-fuzz-") as directory:
        pool = _Pool(args.jobs, int(args.max_gib * (1 << 30)), directory)
        try:
            pool.run(jobs, args.timeout, report)
        finally:
            pool.close()

    outcomes = ("valid", "located", "failure", "hang", "crash")
    print(f"{'kind':<10}" + "".join(f"{o:>10}" for o in outcomes) + f"{'total':>10}")
    for k in kinds:
        print(f"{k:<10}" + "".join(f"{counts[k][o]:>10,}" for o in outcomes) + f"{sum(counts[k].values()):>10,}")
    print(f"{time.monotonic() - t_start:.0f} s, {args.jobs} worker(s), timeout {args.timeout:g} s, "
          f"address space {args.max_gib:g} GiB per worker")
    for (kind, outcome, detail), seed in sorted(bad.items()):
        print(f"{outcome} {kind} seed {seed}: {detail}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
