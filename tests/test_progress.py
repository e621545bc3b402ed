"""Progress that tells the truth: whole lines off a terminal, bars on one, ETAs from work that moves."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from privaudit.progress import LINE_PREFIX, PlainReporter, RateEstimator, ReferenceTrainingProgress, SilentReporter, prefixed, track


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


# -- plain lines (a log file, `make demo | tee`, CI) -------------------------------------------------
def test_plain_reporter_writes_one_unwrapped_line_per_step():
    out = io.StringIO()
    say = PlainReporter(out)
    long = "forest: " + "x" * 192
    say("loading data")
    say(long)
    say("two\nlines\tand a tab")
    lines = _lines(out)
    assert lines == [f"{LINE_PREFIX}loading data", f"{LINE_PREFIX}{long}", f"{LINE_PREFIX}two lines and a tab"]
    assert len(lines[1]) == len(LINE_PREFIX) + 200  # never wrapped at 80 columns


def test_plain_counted_task_writes_start_a_few_updates_and_end():
    out, clock = io.StringIO(), FakeClock()
    say = PlainReporter(out, interval=15.0, clock=clock)
    with track(say, "querying target 'forest'", 120, "batches") as advance:
        for _ in range(120):
            clock.now += 1.0  # one batch a second: 120 s in all
            advance(1, note="batch of 100 records")
    lines = _lines(out)
    assert lines[0] == f"{LINE_PREFIX}querying target 'forest': 0/120 batches (0 %)"
    middle = lines[1:-1]
    assert 6 <= len(middle) <= 8  # at most one line every 15 s, not one per batch
    assert "15/120 batches (12 %), 1 batches/s, about 1 min 45 s left — batch of 100 records" in middle[0]
    assert lines[-1] == f"{LINE_PREFIX}querying target 'forest': 120 batches in 2 min 00 s"
    assert all(line.startswith(LINE_PREFIX) for line in lines)


def test_plain_task_that_ends_early_or_fails_says_where_it_stopped():
    out, clock = io.StringIO(), FakeClock()
    say = PlainReporter(out, clock=clock)
    with track(say, "training regularised_mlp", 100, "epochs") as advance:  # early stopping after 23 epochs
        for _ in range(23):
            clock.now += 0.5
            advance()
    with pytest.raises(KeyboardInterrupt), track(say, "training overfit_mlp", 200, "epochs") as advance:
        advance(7)
        raise KeyboardInterrupt
    lines = _lines(out)
    assert lines[1] == f"{LINE_PREFIX}training regularised_mlp: done after 23 of 100 epochs in 12 s"
    assert lines[-1] == f"{LINE_PREFIX}training overfit_mlp: stopped at 7/200 epochs after 0 s"


def test_track_with_a_plain_callable_or_none_still_works():
    said: list[str] = []
    with track(said.append, "scoring", 5, "records") as advance:
        advance()
        advance(2, note="ignored")
    assert said == ["scoring (5 records)"]
    with track(None, "scoring", 5) as advance:
        advance(5)
    with track(SilentReporter(), "scoring", 5) as advance:
        advance(5)
    # a prefix keeps the reporter's counted tasks (a sweep's "[3/12] ")
    out = io.StringIO()
    with track(prefixed(PlainReporter(out), "[3/12] "), "training", 2, "epochs") as advance:
        advance(2)
    assert _lines(out)[0].startswith(f"{LINE_PREFIX}[3/12] training: 0/2 epochs") and prefixed(None, "x") is None
    prefixed(said.append, "[1/2] ")("done")
    assert said[-1] == "[1/2] done"


# -- ETAs ----------------------------------------------------------------------------------------
def test_rate_excludes_work_done_before_the_start():
    clock = FakeClock()
    eta = RateEstimator(10, done=6, clock=clock)  # 6 models found in the store
    assert eta.rate is None and eta.seconds_left is None
    clock.now += 100.0
    eta.update(7)  # one model trained in 100 s
    assert eta.rate == pytest.approx(0.01) and eta.seconds_left == pytest.approx(300.0)
    eta.update(10)
    assert eta.seconds_left == 0.0


def _ensemble_run(clock: FakeClock, progress: ReferenceTrainingProgress, *, found: int, epochs: int, models: int, epoch_s: float, store_s: float,
                  startup_s: float = 0.0):
    """What the engine reports for ``models`` reference models trained as one batched ensemble (fake time)."""
    total = found + models
    progress(found, total, f"{found} of {total} reference models found in cache")
    progress.work(float(found), total)
    clock.now += startup_s  # starting workers, encoding the data
    etas, truth = [], []
    run_s = epochs * epoch_s + models * store_s
    for epoch in range(1, epochs + 1):
        clock.now += epoch_s
        progress.work(found + models * epoch / (epochs + 1), total)
        etas.append(progress.estimator.seconds_left)
        truth.append(run_s - epoch * epoch_s)
    for k in range(models):  # all finish together: stored one after another
        clock.now += store_s
        progress(found + k + 1, total, f"model {k} trained")
        progress.work(found + k + 1 + models * epochs / (epochs + 1) - (k + 1) * epochs / (epochs + 1), total)
    return etas, truth


@pytest.mark.parametrize("startup_s", [0.0, 120.0])
def test_ensemble_eta_decreases_smoothly_and_is_about_right(startup_s):
    """8 models trained together (and 2 found in the store): the ETA moves every epoch, never jumps up, and is ≈ the truth,
    whether or not the workers took two minutes to start."""
    clock, said = FakeClock(), []
    progress = ReferenceTrainingProgress(said.append, "overfit_mlp", clock=clock)
    etas, truth = _ensemble_run(clock, progress, found=2, epochs=40, models=8, epoch_s=10.0, store_s=1.0, startup_s=startup_s)
    assert etas[0] is None  # one epoch is no rate yet
    etas, truth = etas[1:], truth[1:]
    assert all(left is not None for left in etas)
    assert all(b < a for a, b in zip(etas, etas[1:], strict=False))  # decreases at every epoch
    for left, actual in zip(etas, truth, strict=True):
        assert left == pytest.approx(actual, rel=0.25, abs=5.0)
    # store hits are not in the rate: had the 2 found models counted, the first ETA would be ~5× too small
    assert etas[0] > 0.75 * truth[0]
    assert progress.estimator.done == pytest.approx(10.0)
    # a plain callable gets lines with the time left
    assert said[0] == "overfit_mlp: reference models 2/10 (2 of 10 reference models found in cache)"
    assert "about" in said[1] and said[-1].startswith("overfit_mlp: reference models 10/10 (")


def test_reference_progress_drives_one_bar_that_closes_with_a_summary():
    out, clock = io.StringIO(), FakeClock()
    say = PlainReporter(out, clock=clock, interval=15.0)
    progress = ReferenceTrainingProgress(say, "overfit_mlp", clock=clock)
    _ensemble_run(clock, progress, found=2, epochs=40, models=8, epoch_s=10.0, store_s=1.0)
    lines = _lines(out)
    assert lines[0] == f"{LINE_PREFIX}overfit_mlp: reference models 2/10 (2 of 10 reference models found in cache)"
    assert lines[1] == f"{LINE_PREFIX}overfit_mlp: reference models: 2/10 models (20 %)"
    assert lines[-1] == f"{LINE_PREFIX}overfit_mlp: reference models: 10 models in 6 min 48 s"
    assert 20 <= len(lines) <= 32  # a line at most every 15 s of a 408 s run, not one per epoch
    assert progress.task is None  # closed


def test_everything_in_the_store_opens_no_bar():
    out = io.StringIO()
    progress = ReferenceTrainingProgress(PlainReporter(out), "tree")
    progress(4, 4, "4 of 4 reference models found in cache")
    progress.work(4.0, 4)
    assert progress.task is None and len(_lines(out)) == 1


def test_engine_reports_epochs_of_an_ensemble_and_excludes_store_hits(tmp_path):
    pytest.importorskip("torch")
    import pandas as pd

    from privaudit.data import RecordSet
    from privaudit.models import TrainingConfig
    from privaudit.reference import ReferenceStore, TorchRecipe, reference_keep_mask, train_reference_models
    from privaudit.reference.ensemble import EnsembleRecipe

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype(np.float32)
    pool = RecordSet(np.array([f"r{i:03d}" for i in range(60)]), pd.DataFrame(x, columns=list("abcd")), (x[:, 0] > 0).astype(np.int64), ("no", "yes"))
    recipe = EnsembleRecipe(TorchRecipe("privaudit.models:build_mlp", {"n_inputs": 4, "n_classes": 2, "hidden": [8]}, TrainingConfig(epochs=4, batch_size=16)))
    store = ReferenceStore(tmp_path)

    class Recorder:
        def __init__(self) -> None:
            self.calls, self.work_calls = [], []

        def __call__(self, done, total, message):
            self.calls.append((done, total))

        def work(self, done, total):
            self.work_calls.append((done, total))

    keep = reference_keep_mask(60, 6, seed=0)
    train_reference_models(recipe, pool, keep[:, :2], pool, store=store, seed=0, backend="ensemble", n_jobs=1)
    recorder = Recorder()
    train_reference_models(recipe, pool, keep, pool, store=store, seed=0, backend="ensemble", n_jobs=1, progress=recorder)
    done = [d for d, _ in recorder.work_calls]
    assert recorder.work_calls[0] == (2.0, 6)  # the two models stored by the first run: done at the start
    assert all(total == 6 for _, total in recorder.work_calls) and done == sorted(done) and done[-1] == pytest.approx(6.0)
    # the 4 new models move together, 4 × 1/5 of a model per epoch, before any of them finishes
    assert done[1:5] == pytest.approx([2 + 4 * e / 5 for e in range(1, 5)])
    assert [d for d, _ in recorder.calls] == [2, 3, 4, 5, 6]
    # in worker processes the epochs reach the driver through a queue
    spread = Recorder()
    train_reference_models(recipe, pool, keep, pool, store=ReferenceStore(tmp_path / "spread"), seed=0, backend="ensemble", n_jobs=2, progress=spread)
    done = [d for d, _ in spread.work_calls]
    assert done[0] == 0.0 and done == sorted(done) and done[-1] == pytest.approx(6.0)
    assert any(not float(d).is_integer() for d in done)  # models moved before they finished


# -- training, querying and scoring as counted steps ------------------------------------------------
def test_target_training_reports_every_epoch_with_its_loss():
    torch = pytest.importorskip("torch")
    from privaudit.models import TrainingConfig, build_mlp, train_classifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    seen: list[tuple[int, float]] = []
    torch.manual_seed(0)
    info = train_classifier(build_mlp(5, 2, hidden=[16]), x, y, TrainingConfig(epochs=30, batch_size=32, learning_rate=1e-2),
                            on_epoch=lambda epoch, loss: seen.append((epoch, loss)))
    assert [e for e, _ in seen] == list(range(1, 31)) and info["epochs_run"] == 30
    assert seen[-1][1] < seen[0][1] and all(np.isfinite(loss) for _, loss in seen)
    # early stopping: the bar ends at the epoch training stopped, and the closing line says so
    out, stopped = io.StringIO(), []
    config = TrainingConfig(epochs=500, batch_size=32, learning_rate=1e-2, patience=2)
    with track(PlainReporter(out), "training early", config.epochs, "epochs") as advance:
        info = train_classifier(build_mlp(5, 2, hidden=[16]), x[:80], y[:80], config, validation=(x[80:], y[80:]),
                                on_epoch=lambda epoch, loss: (stopped.append(epoch), advance(1, note=f"training loss {loss:.3f}")))
    assert stopped == list(range(1, info["epochs_run"] + 1)) and info["epochs_run"] < 500
    assert _lines(out)[-1].startswith(f"{LINE_PREFIX}training early: done after {info['epochs_run']} of 500 epochs in ")


def test_torch_target_and_text_scoring_advance_per_batch():
    torch = pytest.importorskip("torch")
    import pandas as pd

    from privaudit.data import RecordSet
    from privaudit.signals import compute_signals
    from privaudit.targets import TorchTarget
    from privaudit.text.token_scores import TokenLogProbs, score_texts

    x = np.random.default_rng(1).normal(size=(10, 3)).astype(np.float32)
    records = RecordSet(np.array([f"r{i}" for i in range(10)]), pd.DataFrame(x, columns=list("abc")), (x[:, 0] > 0).astype(np.int64), ("no", "yes"))
    out = io.StringIO()
    target = TorchTarget(torch.nn.Linear(3, 2), name="net", batch_size=4)
    compute_signals(target, records, ["loss"], progress=PlainReporter(out, interval=0.0), description="querying net")
    assert [line.split(": ")[1].split(" ")[0] for line in _lines(out)] == ["0/10", "4/10", "8/10", "10"]

    class Scorer:  # a token scorer that does not report batches: one step at the end
        name = "lm"

        def token_log_probs(self, texts, *, vocab_stats=False):
            return TokenLogProbs(-np.ones(len(texts)), np.arange(len(texts) + 1), None, None)

    out = io.StringIO()
    scores = score_texts(Scorer(), ["a", "b", "c"], progress=PlainReporter(out))
    assert scores.per_text_sum().tolist() == [-1.0, -1.0, -1.0]
    lines = _lines(out)
    assert len(lines) == 2 and lines[0] == f"{LINE_PREFIX}scoring texts with lm: 0/3 texts (0 %)"
    assert lines[1].startswith(f"{LINE_PREFIX}scoring texts with lm: 3 texts in ")


def test_label_only_queries_are_a_counted_step_within_their_budget():
    import pandas as pd

    from privaudit.data import RecordSet
    from privaudit.query_signals import compute_query_signals, query_request
    from privaudit.targets import SklearnTarget

    class Linear:
        classes_ = np.array([0, 1])

        def predict(self, features):
            return (features[["x1", "x2"]].to_numpy() @ np.array([1.0, -0.5]) > 0).astype(int)

    x = np.random.default_rng(3).uniform(-2, 2, size=(40, 2))
    records = RecordSet(np.array([f"r{i}" for i in range(40)]), pd.DataFrame(x, columns=["x1", "x2"]), (x @ np.array([1.0, -0.5]) > 0).astype(int), (0, 1))
    out = io.StringIO()
    request = query_request("boundary_distance", queries_per_record=20, max_radius=4.0, directions=2, search_steps=4)
    _, spent = compute_query_signals(SklearnTarget(Linear(), name="linear", output_kind="labels"), records, [request], seed=0,
                                     correct=np.ones(40, dtype=bool), progress=PlainReporter(out))
    lines, asked = _lines(out), int(spent[request.key].queries.sum())
    assert lines[0] == f"{LINE_PREFIX}linear: querying perturbed copies for {request.key}: 0/800 queries (0 %)"
    assert 0 < asked <= 800 and lines[-1].startswith(f"{LINE_PREFIX}linear: querying perturbed copies for {request.key}: ")
    assert (f"{asked} queries in " in lines[-1]) if asked == 800 else (f"done after {asked} of 800 queries in " in lines[-1])


# -- bars on a terminal ----------------------------------------------------------------------------
def test_rich_reporter_draws_a_bar_with_count_and_status_lines():
    from rich.console import Console

    from privaudit.progress import RichReporter

    file = io.StringIO()
    with RichReporter(Console(force_terminal=True, file=file, width=100)) as say:
        say("loading data")
        with track(say, "training overfit_mlp", 10, "epochs") as advance:
            advance(3, note="training loss 0.412")
            say.progress.refresh()
    text = file.getvalue()
    assert "━" in text and "training overfit_mlp" in text
    assert "3/10 epochs (30 %)" in text and "training loss 0.412" in text
    assert "· loading data" in text and "training overfit_mlp: 10 epochs" not in text
    assert "training overfit_mlp: done after 3 of 10 epochs in" in text


# -- the command line, not on a terminal ---------------------------------------------------------------
def test_cli_off_a_terminal_prints_plain_whole_lines(tmp_path: Path):
    import skops.io as sio
    from sklearn.tree import DecisionTreeClassifier

    from privaudit.datasets import make_synthetic_tabular

    features = ["x0", "x1", "x2", "x3", "x4", "colour"]
    frame = make_synthetic_tabular(600, label_noise=0.3, seed=5)
    frame["colour"] = frame["colour"].astype("category").cat.codes
    frame["split"] = np.random.default_rng(1).permutation(np.array(["member"] * 200 + ["nonmember"] * 200 + ["population"] * 200))
    frame.to_csv(tmp_path / "records.csv", index=False)
    members = frame[frame.split == "member"]
    sio.dump(DecisionTreeClassifier(random_state=0).fit(members[features], members.label), tmp_path / "tree.skops")
    store = "a-reference-model-store-with-a-long-name-so-that-its-progress-line-runs-past-eighty-columns"
    config = {
        "seed": 0,
        "data": {"path": "records.csv", "label": "label", "id_column": "record_id", "features": features, "membership": {"column": "split"}},
        "targets": [{"name": "tree", "type": "sklearn", "path": "tree.skops", "trusted_types": ["sklearn.tree._tree.Tree"],
                     "reference": {"models": 4, "mode": "offline", "train_size": 100}}],
        "attacks": ["loss", {"name": "lira", "mode": "offline"}],
        "metrics": {"bootstrap": 50},
        "compute": {"backend": "sequential", "store": store},
        "output": "report",
    }
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    src = str(Path(__file__).resolve().parents[1] / "src")
    done = subprocess.run([sys.executable, "-m", "privaudit.cli", "audit", str(tmp_path / "audit.yaml")], capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": src, "OMP_NUM_THREADS": "1", "COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines and all(line.startswith(LINE_PREFIX) for line in lines), done.stderr
    assert "\x1b[" not in done.stderr and "━" not in done.stderr  # no escape codes, no bars
    assert any(len(line) > 100 and store in line for line in lines)  # not wrapped at 80 columns
    assert any(line.startswith(f"{LINE_PREFIX}tree: reference models: 0/4 models") for line in lines)
    assert any(line.startswith(f"{LINE_PREFIX}tree: reference models: 4 models in ") for line in lines)
