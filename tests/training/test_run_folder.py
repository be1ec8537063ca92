"""Run folders that cannot be mixed up, changed data that is noticed, and early stopping that
does not return a barely trained model (issue 20, items 1-3)."""

import json
import logging

import numpy as np
import pytest

from ssrec.config import load_config
from ssrec.errors import SsrecError
from ssrec.training import run
from ssrec.training.run import load_run
from ssrec.training.trainer import Trainer


def _cfg(dataset, out, model="MF", epochs=2, extra=()):
    return load_config(None, [f"model.name={model}", f"data.dataset={dataset}",
                              f"train.epochs={epochs}", "train.progress=false",
                              f"output_dir={out}", *extra])


class _Stop(BaseException):  # a kill: no cleanup runs
    pass


class _KillAfter:
    """Raise after the given epoch, as a kill would interrupt the run."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, trainer, record):
        if record["epoch"] == self.epoch:
            raise _Stop


def test_an_interrupted_overwrite_leaves_no_finished_looking_folder(planted_dir, tmp_path):
    out = tmp_path / "run"
    run(_cfg(planted_dir, out, "MF"))
    assert (out / "results.json").is_file()
    with pytest.raises(_Stop):  # --overwrite with another model, killed after one epoch
        run(_cfg(planted_dir, out, "LightGCN", epochs=5), callbacks=[_KillAfter(1)])
    assert not (out / "results.json").exists() and not (out / "per_user_test.npz").exists()
    with pytest.raises(SsrecError, match="never finished"):
        load_run(out)
    # killed before the first checkpoint: the old model's checkpoint is gone too
    with pytest.raises(_Stop):
        run(_cfg(planted_dir, out, "MF", extra=["train.eval_every=5"]),
            callbacks=[_KillAfter(1)])
    assert not (out / "checkpoint.pt").exists()


def test_files_written_by_different_runs_are_refused(planted_dir, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    run(_cfg(planted_dir, a, "MF"))
    run(_cfg(planted_dir, b, "MF", extra=["model.l2_reg=0.001"]))
    (a / "checkpoint.pt").write_bytes((b / "checkpoint.pt").read_bytes())
    with pytest.raises(SsrecError, match="files disagree"):
        load_run(a)


def _trained_on_own_file(planted_dir, tmp_path):
    """An MF run on a copy of the planted training file: (data file, its lines, run folder)."""
    data = tmp_path / "ratings.txt"
    src = next(p for p in planted_dir.iterdir() if p.name.startswith("train"))
    lines = src.read_text().splitlines()
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    run(_cfg(data, out, "MF", extra=["data.split=ratio"]))
    return data, lines, out


def test_a_changed_data_file_is_noticed(planted_dir, tmp_path):
    data, lines, out = _trained_on_own_file(planted_dir, tmp_path)
    before = load_run(out)
    rng = np.random.default_rng(0)
    data.write_text("\n".join(rng.permutation(lines)) + "\n")  # same rows, shuffled
    with pytest.raises(SsrecError, match="has changed since the run was trained"):
        load_run(out)
    after = load_run(out, allow_data_change=True)
    assert after.data.n_users == before.data.n_users
    with pytest.raises(SsrecError, match="has changed"):
        run(_cfg(data, out, "MF", extra=["data.split=ratio"]), resume=True)


def test_data_that_no_longer_fits_the_checkpoint_names_the_parameter(planted_dir, tmp_path):
    data, lines, out = _trained_on_own_file(planted_dir, tmp_path)
    n_items = load_run(out).data.n_items
    users = sorted({line.split()[0] for line in lines})  # a new item for everyone
    data.write_text("\n".join(lines + [f"{u} brand-new-item" for u in users]) + "\n")
    with pytest.raises(SsrecError, match=rf"item_embedding.weight is \({n_items}, \d+\) in the "
                                         rf"checkpoint but \({n_items + 1}, \d+\)"):
        load_run(out, allow_data_change=True)


def _scripted(trainer, scores):
    """Make the validation return ``scores`` in turn (the monitored metric)."""
    it = iter(scores)

    def evaluate(model):
        s = next(it)
        return {"ndcg@20": s, "recall@20": s}

    trainer.valid_eval.evaluate = evaluate


def test_early_stopping_waits_until_the_first_validation_is_beaten(planted, caplog):
    from ssrec.models import MODELS, model_config

    cfg = load_config(None, ["presets=false", "model.name=MF", "train.epochs=30",
                             "train.patience=3", "train.progress=false", "eval.ks=[20]",
                             "eval.metrics=[ndcg,recall]"])
    model = MODELS.get("MF").build(planted, model_config(cfg))
    trainer = Trainer(model, planted, cfg.train, cfg.eval, seed=1)
    # a graph model's shape: a good random start, a dip, recovery at epoch 12
    scores = [0.30] + [0.2] * 10 + [0.31, 0.32] + [0.1] * 20
    _scripted(trainer, scores)
    with caplog.at_level(logging.WARNING):
        result = trainer.fit()
    assert result.best_epoch == 13 and result.epochs_run == 16  # 3 validations after 13
    assert "first validation" not in caplog.text

    trainer = Trainer(MODELS.get("MF").build(planted, model_config(cfg)), planted, cfg.train,
                      cfg.eval, seed=1)
    _scripted(trainer, [0.30] + [0.2] * 29)  # never beaten: trains the whole budget, warns
    with caplog.at_level(logging.WARNING):
        result = trainer.fit()
    assert result.best_epoch == 1 and result.epochs_run == 30
    assert "came at the first validation" in caplog.text


def test_last_epoch_of_the_budget_warns(planted_dir, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        res = run(_cfg(planted_dir, tmp_path / "r", "MF", epochs=2))
    if res.best_epoch == 2:
        assert "last epoch of the budget (2)" in caplog.text
    saved = json.loads((tmp_path / "r" / "results.json").read_text())
    assert saved["meta"]["config_sha256"] and saved["meta"]["inputs"]


def test_resume_alone_reads_the_run_and_may_change_its_budget(planted_dir, tmp_path, capsys):
    from ssrec.cli import main

    out = tmp_path / "run"
    with pytest.raises(_Stop):
        run(_cfg(planted_dir, out, "LightGCN", epochs=4), callbacks=[_KillAfter(2)])
    # no --model / --dataset: the folder's config.yaml; a longer budget is not a change
    assert main(["train", "--out", str(out), "--resume", "--epochs", "5",
                 "--no-progress"]) == 0
    saved = json.loads((out / "results.json").read_text())
    assert saved["epochs_run"] == 5 and saved["model"] == "LightGCN"
    epochs = [json.loads(x)["epoch"] for x in (out / "log.jsonl").read_text().splitlines()
              if '"epoch"' in x]
    assert epochs == [1, 2, 3, 4, 5]
    # another model names model.name, not the first model key that differs
    with pytest.raises(_Stop):
        run(_cfg(planted_dir, out, "LightGCN", epochs=4), callbacks=[_KillAfter(1)])
    code = main(["train", "--out", str(out), "--resume", "--model", "SimGCL",
                 "--dataset", str(planted_dir)])
    assert code == 2 and "model.name: LightGCN -> SimGCL" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert "holds no run" in capsys.readouterr().err
    assert main(["train", "--out", str(out), "--resume", "--overwrite"]) == 2
    assert "contradict" in capsys.readouterr().err


def test_a_sequential_model_says_when_its_default_split_differs(planted_seq_file, caplog):
    from ssrec.training.run import _WARNED, resolve_data_needs

    _WARNED.clear()
    with caplog.at_level(logging.WARNING):
        cfg = resolve_data_needs(load_config(None, ["model.name=SASRec",
                                                    f"data.dataset={planted_seq_file}"]))
    assert cfg.data.split == "loo"
    assert "split loo with the user's history allowed" in caplog.text
    assert "default to split ratio with the history masked" in caplog.text


def test_sequential_best_at_the_last_epoch_warns_in_results(planted_seq_file, tmp_path, caplog):
    """A sequential model still improving at the end of its budget says so on the console and
    in results.json (the planted successor structure is learnt over the first epochs)."""
    cfg = _cfg(planted_seq_file, tmp_path / "s", "SASRec", epochs=3,
               extra=["train.lr=0.01", "train.batch_size=16", "model.loss=ce"])
    with caplog.at_level(logging.WARNING):
        res = run(cfg)
    saved = json.loads((tmp_path / "s" / "results.json").read_text())
    assert res.best_epoch == 3 and saved["best_epoch"] == 3
    msg = f"the best validation {cfg.train.monitor} came at the last epoch of the budget (3)"
    assert msg in caplog.text
    assert len(saved["warnings"]) == 1 and saved["warnings"][0].startswith(msg)
    # a model fitted in closed form has no budget: no warning, an empty list
    cfg = _cfg(planted_seq_file, tmp_path / "t", "Transition", epochs=3)
    run(cfg)
    assert json.loads((tmp_path / "t" / "results.json").read_text())["warnings"] == []


def test_a_run_made_before_an_option_existed_still_loads_and_resumes(planted_dir, tmp_path):
    """An option added to ssrec (here ``data.behavior_graph``) takes its default for runs made
    before it: they are neither "changed" nor refused as files of different runs."""
    import torch
    import yaml

    from ssrec.training.run import config_sha

    out = tmp_path / "run"
    run(_cfg(planted_dir, out, "MF", epochs=2))
    raw = yaml.safe_load((out / "config.yaml").read_text())
    assert raw["data"].pop("behavior_graph") == "target"
    old = yaml.safe_dump(raw, sort_keys=False)
    (out / "config.yaml").write_text(old)  # as an older ssrec wrote it, with its sha below
    for name in ("checkpoint.pt", "last.pt"):
        ck = torch.load(out / name, weights_only=False)
        ck["meta"]["config_sha256"] = config_sha(old)
        torch.save(ck, out / name)
    res = json.loads((out / "results.json").read_text())
    res["meta"]["config_sha256"] = config_sha(old)
    (out / "results.json").write_text(json.dumps(res))

    assert load_run(out).data.n_users > 0
    resumed = run(_cfg(planted_dir, out, "MF", epochs=3), resume=True)
    assert resumed.epochs_run == 3
    assert "behavior_graph" not in (out / "config.yaml").read_text()  # its identity is kept
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["epochs"] == 3
    load_run(out)
    with pytest.raises(SsrecError, match="model.l2_reg"):  # a real difference still counts
        run(_cfg(planted_dir, out, "MF", epochs=4, extra=["model.l2_reg=0.5"]), resume=True)
