"""The store round-trips a run with its curve, metrics and events."""

from engine.config import ExperimentConfig
from engine.sink import StepRecord
from xmr_tui.store import RunStatus, Store
from xmr_tui.store import runs


def test_run_round_trips_through_the_store(tmp_path):
    store = Store(tmp_path / "experiments.db")
    config = ExperimentConfig(name="baseline")

    created = runs.create_run(store, config, status=RunStatus.running)
    runs.add_steps(store, created.id, [StepRecord(step=10, loss=2.5, lr=1e-3, samples_per_s=100.0,
                                                  temperatures={"temperature": 0.07})])
    runs.set_metrics(store, created.id, {"t2i/R@1": 42.0})
    runs.add_event(store, created.id, "info", "hello")
    runs.finish_run(store, created.id, RunStatus.finished)

    reopened = Store(tmp_path / "experiments.db")
    run = runs.get_run(reopened, created.id)
    assert run.status == RunStatus.finished
    assert run.config_hash == config.config_hash()
    assert run.steps_done == 10
    assert runs.metrics_by_run(reopened, [run.id]) == {run.id: {"t2i/R@1": 42.0}}
    [step] = runs.steps_of(reopened, run.id)
    assert (step.loss, step.temperature) == (2.5, 0.07)
    assert [e.message for e in runs.events_of(reopened, run.id)] == ["hello"]


def test_database_uses_wal_mode(tmp_path):
    store = Store(tmp_path / "experiments.db")

    with store.writer.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()

    assert mode == "wal"
