"""`ssrec compare`: cells, resume, reports, per-user results and the protocol refusal."""

import json

import numpy as np
import pytest
import yaml

from ssrec.cli import main
from ssrec.errors import ConfigError
from ssrec.experiments import (Experiment, ProtocolMismatch, build_report, cell_state,
                               run_experiment, write_report)
from ssrec.training.run import PER_USER_FILE, read_per_user
from conftest import require_dataset


def _spec(tmp_path, datasets, models, seeds=(1, 2), epochs=2, **extra):
    spec = {"title": "t", "seeds": list(seeds), "baseline": next(iter(models)),
            "metrics": ["ndcg@20", "recall@20"],
            "base": {"train": {"epochs": epochs, "min_epochs": 0}}, "datasets": datasets,
            "models": models, **extra}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_compare_on_lastfm_writes_a_report_whose_numbers_are_the_runs(tmp_path, data_dir,
                                                                      monkeypatch):
    require_dataset(data_dir, "lastfm")
    monkeypatch.setenv("SSREC_DATA_DIR", str(data_dir))
    path = _spec(tmp_path, {"lastfm": {}}, {"MF": {}, "LightGCN": {"model": {"n_layers": 1}}},
                 published={"values": {"lastfm": {"LightGCN": {"ndcg@20": 0.1}}}})
    out = tmp_path / "exp"
    assert main(["compare", str(path), "--out", str(out)]) == 0
    for name in ("spec.md", "spec.csv", "spec.json", "spec.png"):
        assert (out / name).stat().st_size > 0
    rep = json.loads((out / "spec.json").read_text())
    rows = {r["model"]: r for r in rep["datasets"]["lastfm"]["rows"]}
    assert rows["MF"]["n"] == rows["LightGCN"]["n"] == 2
    tests = []
    for seed in (1, 2):
        run = out / "lastfm" / "LightGCN" / f"seed-{seed}"
        res = json.loads((run / "results.json").read_text())
        tests.append(res["test"]["ndcg@20"])
        # per-user export: raw user ids, and its mean is results.json's value exactly
        users, values = read_per_user(run / PER_USER_FILE)
        assert users.size == res["protocol"]["evaluated_users"]["test"] == 1856
        for metric, v in res["test"].items():
            assert float(np.mean(values[metric])) == v
    lg = rows["LightGCN"]["metrics"]["ndcg@20"]
    assert lg["mean"] == pytest.approx(np.mean(tests), rel=1e-12)
    assert lg["published"] == 0.1 and lg["gap"] == pytest.approx(lg["mean"] / 0.1 - 1)
    t = lg["test"]
    assert t["users"] == 1856 and t["seeds"] == [1, 2] and 0 <= t["p"] <= 1
    assert t["p_holm"] == t["p"]  # one model compared: Holm changes nothing
    md = (out / "spec.md").read_text()
    assert "| LightGCN | 2 |" in md and "Published values" in md
    # --report rebuilds the same numbers from the folders alone
    assert main(["compare", str(path), "--out", str(out), "--report"]) == 0
    assert json.loads((out / "spec.json").read_text()) == rep


def test_a_half_done_experiment_trains_only_the_missing_cells(tmp_path, planted_dir):
    path = _spec(tmp_path, {"planted": {"data": {"dataset": str(planted_dir)}}}, {"MF": {}, "LightGCN": {}}, seeds=(1, 2))
    exp = Experiment.from_file(path, out=tmp_path / "exp")
    assert len(exp.cells) == 4
    first = run_experiment(exp, exp.cells[:3])
    assert [o.status for o in first] == ["trained"] * 3
    stamp = (exp.cells[0].run_dir / "results.json").stat().st_mtime_ns
    # an interrupted fourth cell: one epoch done, then killed (no results.json)
    last = exp.cells[3]
    cfg = last.config.model_copy(update={"train": last.config.train.model_copy(
        update={"epochs": 1})})
    from ssrec.training.run import run
    run(cfg)
    (last.run_dir / "results.json").unlink()
    assert cell_state(last)[0] == "interrupted"
    again = run_experiment(exp)
    assert [o.status for o in again] == ["done", "done", "done", "resumed"]
    assert (exp.cells[0].run_dir / "results.json").stat().st_mtime_ns == stamp
    lines = [json.loads(x) for x in (last.run_dir / "log.jsonl").read_text().splitlines()]
    assert [x["epoch"] for x in lines if "epoch" in x] == [1, 2]  # epoch 1 not trained again
    assert build_report(exp)["datasets"]["planted"]["rows"][1]["n"] == 2


def test_a_larger_budget_extends_cells_that_ran_out_of_it(tmp_path, planted_dir):
    data = {"planted": {"data": {"dataset": str(planted_dir)}}}
    models = {"MF": {}, "LightGCN": {"train": {"patience": 1, "min_epochs": 0}}}
    exp = Experiment.from_file(_spec(tmp_path, data, models, seeds=(1,), epochs=3),
                               out=tmp_path / "exp")
    run_experiment(exp)
    mf, lgn = exp.cells
    assert json.loads((mf.run_dir / "results.json").read_text())["epochs_run"] == 3
    # LightGCN stopped early (patience 1) or not: only a cell that used its whole budget grows
    lgn_ran = json.loads((lgn.run_dir / "results.json").read_text())["epochs_run"]
    exp = Experiment.from_file(_spec(tmp_path, data, models, seeds=(1,), epochs=5),
                               out=tmp_path / "exp")
    mf, lgn = exp.cells
    assert cell_state(mf) == ("extend", "budget 3 -> 5 epochs")
    assert cell_state(lgn)[0] == ("extend" if lgn_ran == 3 else "finished")
    outcomes = run_experiment(exp)
    assert outcomes[0].status == "resumed"
    lines = [json.loads(x) for x in (mf.run_dir / "log.jsonl").read_text().splitlines()]
    assert [x["epoch"] for x in lines if "epoch" in x] == [1, 2, 3, 4, 5]
    res = json.loads((mf.run_dir / "results.json").read_text())
    assert res["epochs_run"] == 5 and cell_state(mf) == ("finished", None)


def test_cells_with_different_protocols_are_refused_naming_the_key(tmp_path, planted_dir):
    models = {"MF": {}, "LightGCN": {"eval": {"mask_valid_in_test": False}}}
    path = _spec(tmp_path, {"planted": {"data": {"dataset": str(planted_dir)}}}, models, seeds=(1,), epochs=1)
    exp = Experiment.from_file(path, out=tmp_path / "exp")
    run_experiment(exp)
    with pytest.raises(ProtocolMismatch, match="masked_items"):
        write_report(exp)
    assert main(["compare", str(path), "--out", str(tmp_path / "exp"), "--report"]) == 2


def test_a_changed_cell_is_refused_and_a_bad_spec_names_its_line(tmp_path, planted_dir):
    path = _spec(tmp_path, {"planted": {"data": {"dataset": str(planted_dir)}}}, {"MF": {}}, seeds=(1,), epochs=1)
    run_experiment(Experiment.from_file(path, out=tmp_path / "exp"))
    raw = yaml.safe_load(path.read_text())
    raw["models"]["MF"] = {"model": {"embedding_dim": 8}}
    path.write_text(yaml.safe_dump(raw))
    exp = Experiment.from_file(path, out=tmp_path / "exp")
    assert cell_state(exp.cells[0]) == ("changed", "model.embedding_dim: 64 -> 8")
    outcome = run_experiment(exp)[0]
    assert outcome.status == "failed" and "--rerun-changed" in outcome.error
    assert run_experiment(exp, rerun_changed=True)[0].status == "trained"
    path.write_text("seeds: [1]\ndatasets: {x: {}}\nmodels: {MF: {}}\ntest: sign\n")
    with pytest.raises(ConfigError, match="unknown test") as err:
        Experiment.from_file(path)
    assert err.value.line == 4


def test_a_subset_of_cells_is_selected_by_label_and_seed(tmp_path, planted_dir):
    path = _spec(tmp_path, {"planted": {"data": {"dataset": str(planted_dir)}}},
                 {"MF": {}, "LightGCN": {}}, seeds=(1, 2, 3))
    exp = Experiment.from_file(path, out=tmp_path / "exp")
    assert [c.name for c in exp.select(models=["LightGCN"], seeds=[2, 3])] == [
        "planted/LightGCN/seed-2", "planted/LightGCN/seed-3"]
    with pytest.raises(ConfigError, match="unknown seed 7"):
        list(exp.select(seeds=[7]))
    with pytest.raises(ConfigError, match="unknown model 'SGL'"):
        list(exp.select(models=["SGL"]))


def test_a_dataset_without_finished_cells_is_named_in_the_report(tmp_path, planted_dir):
    data = {"data": {"dataset": str(planted_dir)}}
    path = _spec(tmp_path, {"planted": data, "later": data}, {"MF": {}}, seeds=(1,))
    exp = Experiment.from_file(path, out=tmp_path / "exp")
    run_experiment(exp, [c for c in exp.cells if c.dataset == "planted"])
    md = write_report(exp)["md"].read_text()
    assert "## planted\n" in md
    assert "## later\n\nNo cell finished yet (MF; seeds 1)." in md
