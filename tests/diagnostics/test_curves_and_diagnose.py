"""curves.png in every run folder, TensorBoard scalars read back, ssrec plot overlays runs,
ssrec diagnose writes its JSON and figures (headless, expected pixel sizes)."""

from __future__ import annotations

import json
import sys

import pytest

from helpers_png import png_size
from ssrec.cli import main
from ssrec.config import load_config
from ssrec.errors import ConfigError, SsrecError
from ssrec.training import run


def _cfg(planted_dir, out, *extra):
    return load_config(None, [f"data.dataset={planted_dir}", "data.valid_ratio=0.2",
                              "model.name=MF", "train.epochs=4", "train.progress=false",
                              "train.lr=0.05", f"output_dir={out}", *extra])


@pytest.fixture(scope="module")
def mf_run(planted_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("mf") / "run"
    pytest.importorskip("tensorboard")
    result = run(_cfg(planted_dir, out, "train.tensorboard=true"))
    return out, result


def test_curves_png_in_the_run_folder(mf_run):
    out, _ = mf_run
    # MF logs total, bpr, reg + the metric panel: 4 panels, 3 a row, 3.4 x 2.6 in at 100 dpi
    assert png_size(out / "curves.png") == (1020, 520)
    assert (out / "curves.png").stat().st_size > 10_000


def test_tensorboard_event_file_holds_the_scalars(mf_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, result = mf_run
    acc = EventAccumulator(str(out / "tensorboard"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"loss/total", "loss/bpr", "loss/reg", "valid/ndcg@20", "valid/recall@20",
            "time/epoch_seconds", "time/valid_seconds", "test/ndcg@20"} <= tags
    bpr = acc.Scalars("loss/bpr")
    assert [e.step for e in bpr] == [1, 2, 3, 4]
    assert [e.value for e in bpr] == pytest.approx(
        [r["loss"]["bpr"] for r in result.history], rel=1e-6)
    ndcg = acc.Scalars("valid/ndcg@20")
    assert [e.value for e in ndcg] == pytest.approx(
        [r["valid"]["ndcg@20"] for r in result.history], rel=1e-6)
    assert acc.Scalars("test/ndcg@20")[0].value == pytest.approx(result.test["ndcg@20"])
    assert acc.Scalars("test/ndcg@20")[0].step == result.best_epoch


def test_missing_tensorboard_says_how_to_install(planted_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(SsrecError, match=r"pip install 'ssrec\[tensorboard\]'"):
        run(_cfg(planted_dir, tmp_path / "r", "train.tensorboard=true"))


def test_plot_overlays_runs(mf_run, planted_dir, tmp_path, capsys):
    first, _ = mf_run
    second = tmp_path / "lr-small"
    run(_cfg(planted_dir, second, "train.lr=0.001"))
    fig = tmp_path / "both.png"
    assert main(["plot", str(first), str(second), "--out", str(fig)]) == 0
    assert png_size(fig) == (1020, 520)
    assert main(["plot", str(tmp_path), "--out", str(fig)]) == 2
    assert "no log.jsonl" in capsys.readouterr().err


def test_list_metric_is_no_monitor(planted_dir, tmp_path):
    with pytest.raises(ConfigError, match="list metric"):
        run(_cfg(planted_dir, tmp_path / "m", "eval.metrics=[ndcg, coverage]",
                 "train.monitor=coverage@20"))


def test_diagnose_writes_json_and_figures(mf_run, tmp_path, capsys):
    out, result = mf_run
    dest = tmp_path / "diag"
    assert main(["diagnose", str(out), "--out", str(dest), "--groups", "4"]) == 0
    assert not (out / "diagnostics.json").exists()  # the run folder stays as it was
    d = json.loads((dest / "diagnostics.json").read_text())
    rep = d["representations"]
    assert -4.0 <= rep["users"]["uniformity"] <= 0.0 and 0.0 <= rep["alignment"] <= 4.0
    assert rep["alignment_pairs"] == 60 * 6 - 60  # train minus the validation hold-out
    g = d["groups"]
    # the same weights and evaluator as the run's test scoring
    assert g["recall@20"] == pytest.approx(result.test["recall@20"])
    assert sum(r["recall@20_contribution"] for r in g["items"]) == pytest.approx(
        g["recall@20"])
    assert sum(r["users"] for r in g["users"]) == len(result.test_users)
    assert sum(r["target_share"] for r in g["items"]) == pytest.approx(1.0)
    assert 0 < d["lists"]["coverage@20"] <= 1 and 0 <= d["lists"]["gini@20"] < 1
    assert png_size(dest / "embedding_distribution.png") == (260, 960)
    assert png_size(dest / "groups.png") == (960, 360)


def test_diagnose_refuses_models_without_representations(planted_dir, tmp_path, capsys):
    out = tmp_path / "pop"
    run(load_config(None, [f"data.dataset={planted_dir}", "model.name=MostPop",
                           f"output_dir={out}"]))
    capsys.readouterr()
    assert main(["-q", "diagnose", str(out)]) == 2
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("ssrec: error:")]
    assert len(lines) == 1 and "MostPop has no user and item representations" in lines[0]


def test_diagnose_an_earlier_versions_run(mf_run, tmp_path, capsys):
    """A run whose config.yaml holds a key this version retired loads only with
    --earlier-version, which drops and lists the key; the weights are the same."""
    import shutil

    src, result = mf_run
    old = tmp_path / "old"
    shutil.copytree(src, old)
    cfg = old / "config.yaml"
    cfg.write_text(cfg.read_text().replace("model:\n", "model:\n  noise_stream: counter\n"))
    capsys.readouterr()
    assert main(["-q", "diagnose", str(old)]) == 2
    assert "unknown key 'model.noise_stream'" in capsys.readouterr().err
    assert main(["-q", "diagnose", str(old), "--earlier-version", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["dropped_config_keys"] == ["model.noise_stream"]
    assert d["groups"]["recall@20"] == pytest.approx(result.test["recall@20"])


def test_resumed_runs_curves_include_the_epochs_before_the_interruption(planted_dir, tmp_path,
                                                                         monkeypatch):
    """A run interrupted after epoch 2 and resumed to epoch 4: CurvesPlot draws all four
    epochs (it reads the kept lines of log.jsonl at fit start)."""
    from ssrec.training import callbacks

    out = tmp_path / "resumed"
    run(_cfg(planted_dir, out, "train.epochs=2"))
    (out / "results.json").unlink()  # as if killed after epoch 2
    seen = []
    orig = callbacks.CurvesPlot.on_fit_end

    def spy(self, trainer, result):
        seen.append([r["epoch"] for r in self.records])
        return orig(self, trainer, result)

    monkeypatch.setattr(callbacks.CurvesPlot, "on_fit_end", spy)
    run(_cfg(planted_dir, out, "train.epochs=4"), resume=True)
    assert seen == [[1, 2, 3, 4]]
    assert png_size(out / "curves.png") == (1020, 520)
