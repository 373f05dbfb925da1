"""Run every benchmark script in its own process and print a one-line summary of each.

Each script writes ``bench/results/<name>.json``. A separate process per script keeps one
benchmark's memory, thread pools and peak RSS out of the next one's figures.

    python bench/run_all.py             # all five; see bench/README.md for running times
    python bench/run_all.py index_tradeoff exact_eval_efficiency
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ("train_step_overhead", "data_loading", "feature_cache", "index_tradeoff", "exact_eval_efficiency")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", default=list(SCRIPTS),
                        help=f"benchmarks to run (default: all): {', '.join(SCRIPTS)}")
    args = parser.parse_args()
    unknown = [name for name in args.names if name not in SCRIPTS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(SCRIPTS)}")

    environment = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    failed = []
    for name in args.names:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        completed = subprocess.run([sys.executable, str(HERE / f"{name}.py")], env=environment,
                                   cwd=HERE.parent, check=False)
        print(f"== {name}: exit {completed.returncode} after {time.perf_counter() - started:.0f} s", flush=True)
        if completed.returncode:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
