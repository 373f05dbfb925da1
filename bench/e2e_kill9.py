"""End-to-end crash test of the queue: two workers, one killed with SIGKILL mid-run.

Queues three runs of a tiny config on the toy dataset and starts two detached CPU workers.
Once a run has passed a checkpoint, its worker is killed with ``kill -9``. Meanwhile the
script issues CLI reads and writes (``--ops``, default 1,000) against the same database. Then it
checks that every run finished once, that the killed run resumed from its checkpoint, that
its metrics equal an uninterrupted in-process run of the same config and seed, and that no
CLI call failed with "database is locked". Finally it prints ``xmr report`` in markdown, CSV
and JSON and writes the plots.

Run from the repository root (about 2-4 minutes on two CPU cores):

    python bench/e2e_kill9.py [--workdir DIR] [--ops 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from typer.testing import CliRunner  # noqa: E402

from engine.metrics import is_measurement
from engine.train import run as train_run  # noqa: E402
from tests.fixtures import write_toy_dataset  # noqa: E402
from xmr_tui.cli.main import app  # noqa: E402
from xmr_tui.store import RunStatus, Store  # noqa: E402
from xmr_tui.store.runs import events_of, get_run, list_runs, metrics_by_run, run_config, steps_of  # noqa: E402

STEPS, LOG_EVERY, CHECKPOINT_EVERY = 150, 5, 25
# use-m3 has fixed pretrained weights: the on-disk feature cache is keyed by the encoder configs, not
# the seed, so a randomly initialised backbone (tiny-bert-zh) would share features across seeds.
TINY = ["--set", "text.backbone=use-m3", "--set", "image.image_size=32", "--set", f"train.steps={STEPS}",
        "--set", "train.batch_size=8", "--set", "head.hidden_dim=64", "--set", "head.embed_dim=32",
        "--set", "eval.batch_size=16", "--set", f"train.log_every={LOG_EVERY}",
        "--set", f"train.checkpoint_every={CHECKPOINT_EVERY}"]
LEASE_SECONDS = 8


def xmr(*args: str) -> str:
    """Run the real `xmr` command in a subprocess, as a user would, and return its output."""
    done = subprocess.run([sys.executable, "-m", "xmr_tui.cli.main", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"xmr {' '.join(args)} failed ({done.returncode}): {done.stdout}{done.stderr}")
    return done.stdout


class CliLoad:
    """Issues CLI reads and writes in-process and counts failures and "database is locked" errors."""

    def __init__(self, db: Path, dataset: Path) -> None:
        self.runner = CliRunner(env={"COLUMNS": "200"})
        self.db, self.dataset = str(db), str(dataset)
        self.done = self.failed = self.locked = 0
        self.reads = self.writes = 0
        self.during_training: int | None = None   # calls issued before the last run finished

    def step(self) -> None:
        """Issue the next call: a queue add, a cancel, or one of two reads, in turn."""
        kind = self.done % 4
        if kind == 0:
            # A write: a run pinned to a device no worker serves, so it never competes for work.
            args = ["queue", "add", "demo_baseline", *TINY, "--dataset", self.dataset, "--device", "cuda:7"]
        elif kind == 1:
            pinned = [r.id for r in list_runs(Store(self.db), statuses=[RunStatus.queued]) if r.device == "cuda:7"]
            args = ["queue", "cancel", str(pinned[-1])]
        elif kind == 2:
            args = ["queue", "list", "--all"]
        else:
            args = ["runs", "list"]
        self.writes += kind < 2
        self.reads += kind >= 2
        result = self.runner.invoke(app, [*args, "--db", self.db])
        text = result.output + (repr(result.exception) if result.exception else "")
        self.done += 1
        self.failed += result.exit_code != 0
        self.locked += "database is locked" in text


def wait_for_victim(store: Store, workers: Path) -> tuple[int, int, int]:
    """Return (run id, worker pid, steps done) of a run past its second checkpoint."""
    for run in list_runs(store, statuses=[RunStatus.running]):
        if 2 * CHECKPOINT_EVERY <= run.steps_done <= STEPS - 2 * CHECKPOINT_EVERY:
            for record_path in workers.glob("worker-*.json"):
                record = json.loads(record_path.read_text())
                if record["worker_id"] == run.claimed_by:
                    return run.id, record["pid"], run.steps_done
    return 0, 0, 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="folder for the database (default: a temp dir)")
    parser.add_argument("--ops", type=int, default=1000, help="CLI reads and writes to issue during the test")
    parser.add_argument("--timeout", type=float, default=600, help="seconds before giving up")
    options = parser.parse_args()
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="xmr-e2e-"))
    workdir.mkdir(parents=True, exist_ok=True)
    # Keep the feature cache inside the workdir: the workers (subprocesses) inherit the variable.
    os.environ["XMR_CACHE"] = str(workdir / "cache")
    os.environ["LC_ALL"] = "C"  # the checks below read English event messages, whatever the user's locale
    db = workdir / "experiments.db"
    dataset = write_toy_dataset(workdir / "toy")
    print(f"workdir {workdir}")

    print(xmr("queue", "add", "demo_baseline", *TINY, "--dataset", str(dataset), "--seeds", "1,2,3", "--db", str(db)))
    for _ in range(2):
        print(xmr("worker", "--detach", "--device", "cpu", "--lease-seconds", str(LEASE_SECONDS),
                  "--poll-seconds", "1", "--db", str(db)).strip())

    store = Store(db)
    load = CliLoad(db, dataset)
    victim = killed_pid = 0
    started = time.monotonic()
    trained = [r.id for r in list_runs(store) if r.device is None]
    while time.monotonic() - started < options.timeout:
        if not victim:
            victim, killed_pid, at_step = wait_for_victim(store, workdir / "workers")
            if victim:
                os.kill(killed_pid, signal.SIGKILL)
                print(f"kill -9 worker pid {killed_pid} while run {victim} was at step {at_step}")
        if load.done < options.ops:
            load.step()
        else:
            time.sleep(0.5)
        finished = [get_run(store, i).status == RunStatus.finished for i in trained]
        if all(finished) and load.during_training is None:
            load.during_training = load.done
        if all(finished) and load.done >= options.ops:
            break
    print(xmr("worker", "stop", "--db", str(db)).strip())
    return report(store, db, workdir, trained, victim, load)


def report(store: Store, db: Path, workdir: Path, trained: list[int], victim: int, load: CliLoad) -> int:
    problems = []
    print(f"\nCLI load: {load.done} calls ({load.reads} reads, {load.writes} writes), {load.failed} failed, "
          f"{load.locked} 'database is locked'; {load.during_training} of them while runs were training")
    if load.locked or load.failed:
        problems.append("CLI calls failed during the test")
    for run_id in trained:
        run = get_run(store, run_id)
        claims = [e.message for e in events_of(store, run_id) if e.message.startswith("claimed by")]
        steps = [s.step for s in steps_of(store, run_id)]
        print(f"run {run_id}: {run.status.value}, attempt {run.attempt}, claims {len(claims)}, "
              f"{len(steps)} curve points (unique {len(set(steps))})")
        if run.status != RunStatus.finished:
            problems.append(f"run {run_id} is {run.status.value}")
        if steps != list(range(LOG_EVERY, STEPS + 1, LOG_EVERY)):
            problems.append(f"run {run_id} curve has missing or repeated steps")
        if len(claims) != (2 if run_id == victim else 1):
            problems.append(f"run {run_id} was claimed {len(claims)} times")
    if victim:
        for event in events_of(store, victim):
            print(f"  run {victim} event: {event.level}: {event.message}")
        problems += compare_with_uninterrupted(store, victim)
    else:
        problems.append("no run was killed (none reached the kill window)")

    for format in ("markdown", "csv", "json"):
        print(f"\n$ xmr report --format {format}\n" + xmr("report", "--format", format, "--runs",
                                                         ",".join(map(str, trained)), "--db", str(db)))
    plots = workdir / "plots"
    xmr("report", "--runs", ",".join(map(str, trained)), "--plots", str(plots), "--db", str(db))
    print("plots: " + ", ".join(sorted(str(p) for p in plots.glob("*.png"))))
    print("\nRESULT: " + ("PASS" if not problems else "FAIL: " + "; ".join(problems)))
    return 1 if problems else 0


def compare_with_uninterrupted(store: Store, victim: int) -> list[str]:
    stored = metrics_by_run(store, [victim])[victim]
    reference = train_run(run_config(get_run(store, victim)), device="cpu").metrics
    keys = sorted(k for k in reference if not is_measurement(k))
    mismatched = [k for k in keys if stored.get(k) != reference[k]]
    print(f"run {victim} vs an uninterrupted run of the same config and seed: {len(keys) - len(mismatched)} of "
          f"{len(keys)} metrics identical; t2i/R@1 {stored.get('t2i/R@1')} vs {reference['t2i/R@1']}, "
          f"mAP {stored.get('t2i/mAP')} vs {reference['t2i/mAP']}")
    return [f"resumed run {victim} differs in {', '.join(mismatched)}"] if mismatched else []


if __name__ == "__main__":
    raise SystemExit(main())
