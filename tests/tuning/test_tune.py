"""ssrec tune: a planted study finds the planted good value, selection never scores test, a
killed study resumes, pruning stops a run cleanly, user errors are one line."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

pytest.importorskip("optuna")

from helpers_png import png_size  # noqa: E402
from ssrec.cli import main  # noqa: E402
from ssrec.config import load_config  # noqa: E402
from ssrec.evaluation.evaluator import Evaluator  # noqa: E402
from ssrec.tuning import PruningCallback, TuneSpec, run_study  # noqa: E402
from ssrec.tuning.study import import_optuna  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def write_spec(path: Path, dataset: Path, **extra) -> Path:
    spec = {"title": "planted", "base": {"data": {"dataset": str(dataset), "valid_ratio": 0.2},
                                         "model": {"name": "MF"},
                                         "train": {"epochs": 12, "patience": 20}},
            "space": {"train.lr": {"type": "float", "low": 1e-6, "high": 0.1, "log": True}},
            "n_trials": 6, "seed": 7, "sampler": {"startup_trials": 3},
            "pruner": {"type": "none"}}
    spec.update(extra)
    path.write_text(yaml.safe_dump(spec))
    return path


def test_planted_study_finds_the_good_learning_rate(planted_dir, tmp_path, monkeypatch):
    """MF on the planted groups learns them in 12 epochs only with a large enough learning
    rate; below 1e-4 it stays near its random initialisation. The study must find a rate
    above 1e-3, ranking test users exactly once (the final run), never during the trials."""
    scored = []
    orig = Evaluator.scores

    def spy(self, model):
        scored.append(self.split)
        return orig(self, model)

    monkeypatch.setattr(Evaluator, "scores", spy)
    spec = TuneSpec.from_file(write_spec(tmp_path / "planted-lr.yaml", planted_dir))
    out = tmp_path / "study"
    summary = run_study(spec, out)
    assert summary["trials"] == {"COMPLETE": 6}
    best = summary["best"]
    assert best["params"]["train.lr"] > 1e-3
    rows = list(__import__("csv").DictReader((out / "study.csv").open()))
    values = {float(r["train.lr"]): float(r["valid ndcg@20"]) for r in rows}
    slow = [v for lr, v in values.items() if lr < 1e-4]
    assert slow and best["value"] > max(slow) + 0.2
    assert scored.count("test") == 1 and scored[-1] == "test"  # the final run only
    for trial in sorted((out / "trials").iterdir()):
        res = json.loads((trial / "results.json").read_text())
        assert res["test"] == {} and res["test_scored"] is False
        assert not (trial / "per_user_test.npz").exists()
    final = json.loads((out / "best" / "results.json").read_text())
    assert final["test"]["ndcg@20"] > 0.5 and "test_scored" not in final
    cfg = load_config(out / "best.yaml")  # ready for ssrec train --config
    assert cfg.train.lr == pytest.approx(best["params"]["train.lr"])
    assert cfg.output_dir is None
    assert png_size(out / "history.png") == (640, 360)
    md = (out / "study.md").read_text()
    assert "| `train.lr` | float [1e-06, 0.1] (log) |" in md and "Trained once" in md
    # run again: nothing left to train, the final results are read back, not re-scored
    scored.clear()
    again = run_study(spec, out)
    assert scored == [] and again["final"]["test"] == summary["final"]["test"]


KILLER = textwrap.dedent("""
    import os, signal, sys
    import ssrec.tuning.study as st
    from ssrec.tuning import TuneSpec, run_study

    orig = st.PruningCallback.on_validation_end

    def kill(self, trainer, epoch, metrics, improved):
        if self.trial.number == 2 and epoch == 3:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup at all, as a killed job
        return orig(self, trainer, epoch, metrics, improved)

    st.PruningCallback.on_validation_end = kill
    run_study(TuneSpec.from_file(sys.argv[1]), sys.argv[2], final=False)
""")


def test_killed_study_resumes_with_the_same_command(planted_dir, tmp_path):
    optuna = import_optuna()
    spec_path = write_spec(tmp_path / "kill.yaml", planted_dir, n_trials=4)
    out = tmp_path / "study"
    proc = subprocess.run([sys.executable, "-c", KILLER, str(spec_path), str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == -9, proc.stderr[-2000:]
    study = optuna.load_study(study_name="kill", storage=f"sqlite:///{out / 'study.db'}")
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "COMPLETE", "RUNNING"]
    killed_params = study.trials[2].params

    summary = run_study(TuneSpec.from_file(spec_path), out, final=False)
    study = optuna.load_study(study_name="kill", storage=f"sqlite:///{out / 'study.db'}")
    trials = study.trials
    assert trials[2].state.name == "FAIL" and trials[2].user_attrs["interrupted"]
    assert trials[3].params == killed_params  # the interrupted configuration ran again
    assert trials[3].user_attrs["requeued_from"] == 2
    assert [t.state.name for t in trials[3:]] == ["COMPLETE", "COMPLETE"]
    assert summary["trials"] == {"COMPLETE": 4, "INTERRUPTED": 1}
    assert "| 2 | interrupted |" in (out / "study.md").read_text()


class _Trial:
    """Stands in for an Optuna trial whose pruner says stop from epoch 2 on."""

    number = 0

    def __init__(self):
        self.reported = []

    def report(self, value, step):
        self.reported.append((step, value))

    def should_prune(self):
        return len(self.reported) >= 2


def test_pruned_run_stops_cleanly(planted_dir, tmp_path):
    from ssrec.training import run

    cfg = load_config(None, [f"data.dataset={planted_dir}", "data.valid_ratio=0.2",
                             "model.name=MF", "train.epochs=30", "train.patience=50",
                             f"output_dir={tmp_path / 'r'}", "train.progress=false"])
    trial = _Trial()
    result = run(cfg, callbacks=[PruningCallback(trial, "ndcg@20")], score_test=False)
    assert result.epochs_run == 2 and [s for s, _ in trial.reported] == [1, 2]
    assert result.test == {}
    log = [json.loads(line) for line in (tmp_path / "r" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log if "epoch" in r and "loss" in r] == [1, 2]
    assert (tmp_path / "r" / "curves.png").is_file()


def test_tune_user_errors_are_one_line(planted_dir, tmp_path, capsys):
    bad = write_spec(tmp_path / "bad.yaml", planted_dir,
                     space={"train.lrr": {"type": "float", "low": 0.001, "high": 0.1}})
    assert main(["-q", "tune", str(bad), "--out", str(tmp_path / "o")]) == 2
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("ssrec: error:")]
    assert len(lines) == 1 and "space.train.lrr" in lines[0]
    assert "did you mean 'train.lr'" in lines[0]
    bad2 = write_spec(tmp_path / "bad2.yaml", planted_dir,
                      space={"model.embedding_dim": {"type": "int", "low": 0, "high": 8}})
    assert main(["tune", str(bad2)]) == 2
    assert "space.model.embedding_dim = 0" in capsys.readouterr().err
    bad3 = write_spec(tmp_path / "bad3.yaml", planted_dir,
                      space={"train.lr": {"type": "float", "low": 0, "high": 1, "log": True}})
    assert main(["tune", str(bad3)]) == 2
    assert "log scale needs low > 0" in capsys.readouterr().err


def test_missing_optuna_says_how_to_install(monkeypatch):
    from ssrec.errors import SsrecError

    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(SsrecError, match=r"pip install 'ssrec\[tune\]'"):
        import_optuna()


@pytest.mark.parametrize("path", sorted((REPO / "experiments" / "tune").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_shipped_tuning_specs_validate(path):
    spec = TuneSpec.from_file(path)
    assert spec.metric_name == "ndcg@20" and spec.space
