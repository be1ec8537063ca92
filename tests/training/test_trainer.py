from __future__ import annotations

import json

import pytest
import torch
import yaml

from ssrec.config import EvalConfig, TrainConfig, load_config
from ssrec.errors import SsrecError
from ssrec.models import LightGCN, LossOutput, MF
from ssrec.training import Trainer, TrainingError, run


def test_same_seed_gives_identical_results(planted_dir, tmp_path):
    results = []
    for k in range(2):
        cfg = load_config(None, ["model.name=SimGCL", f"data.dataset={planted_dir}",
                                 "train.epochs=4", "train.batch_size=32", "train.progress=false",
                                 f"output_dir={tmp_path / str(k)}", "seed=7"])
        run(cfg)
        results.append(json.loads((tmp_path / str(k) / "results.json").read_text()))
    assert results[0]["test"] == results[1]["test"]
    assert results[0]["valid"] == results[1]["valid"]


def test_run_folder_contents(planted_dir, tmp_path):
    cfg = load_config(None, ["model.name=LightGCN", f"data.dataset={planted_dir}",
                             "train.epochs=3", "train.progress=false", f"output_dir={tmp_path}"])
    result = run(cfg)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"config.yaml", "log.jsonl", "checkpoint.pt", "last.pt", "results.json"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    res = json.loads((tmp_path / "results.json").read_text())
    assert set(res["test"]) == {f"{m}@{k}" for m in ("recall", "ndcg", "precision", "hit", "mrr",
                                                     "map") for k in (10, 20)}
    assert res["best_epoch"] == result.best_epoch
    proto = res["protocol"]
    assert proto["ranking"] == "full" and proto["selection_split"] == "valid"
    assert proto["ks"] == [10, 20] and proto["seed"] == 2020
    assert "cold_dropped" in proto and proto["dataset"] == str(planted_dir)
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert len(lines) == 4 and json.loads(lines[0])["loss"]["bpr"] > 0
    cfg2 = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert cfg2["model"] == {"name": "LightGCN", "embedding_dim": 64, "l2_reg": 0.0001,
                             "init_std": None, "n_layers": 3, "propagation": "full",
                             "fanouts": [10], "sparse_grad": None}
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == result.best_epoch


def test_early_stopping_and_best_weights_restored(planted):
    torch.manual_seed(0)
    model = MF.build(planted)
    tr = Trainer(model, planted, TrainConfig(epochs=200, patience=2, lr=0.05, batch_size=16,
                                             progress=False, monitor="recall@5"),
                 EvalConfig(ks=[5]), seed=0)
    res = tr.fit()
    assert res.epochs_run < 200
    assert res.epochs_run - res.best_epoch == 2
    # the restored weights reproduce the best validation score
    again = tr.valid_eval.evaluate(model)
    assert again == res.valid


class Exploding(LightGCN):
    def loss(self, batch):
        out = super().loss(batch)
        return LossOutput(out.total * float("nan"), out.parts)


def test_non_finite_loss_raises(planted):
    model = Exploding.build(planted)
    tr = Trainer(model, planted, TrainConfig(epochs=2, progress=False), EvalConfig(), seed=0)
    with pytest.raises(TrainingError, match="non-finite loss in epoch 1"):
        tr.fit()


class _Interrupt:
    """Stops training at the start of an epoch, as a killed process would."""

    def __init__(self, at: int):
        self.at = at

    def on_epoch_start(self, trainer, epoch):
        if epoch == self.at:
            raise KeyboardInterrupt


@pytest.mark.parametrize("model", ["SimGCL", "CL4SRec"])
def test_an_interrupted_run_resumes_to_the_same_result(model, planted_dir, planted_seq_file,
                                                       tmp_path):
    data = planted_seq_file if model == "CL4SRec" else planted_dir
    base = [f"model.name={model}", f"data.dataset={data}", "train.epochs=5",
            "train.batch_size=16", "train.progress=false", "seed=3", "train.num_threads=1"]
    if model == "CL4SRec":
        base.append("data.split=loo")
    run(load_config(None, [*base, f"output_dir={tmp_path / 'a'}"]))
    cfg = load_config(None, [*base, f"output_dir={tmp_path / 'b'}"])
    with pytest.raises(KeyboardInterrupt):
        run(cfg, callbacks=[_Interrupt(4)])
    assert not (tmp_path / "b" / "results.json").exists()
    # a saved config.yaml that differs from this configuration is refused with the first
    # difference (a key it lacks would take today's default: see test_run_folder)
    saved = tmp_path / "b" / "config.yaml"
    text = saved.read_text()
    assert "  social_symmetric: false\n" in text
    saved.write_text(text.replace("  social_symmetric: false\n", "  social_symmetric: true\n"))
    with pytest.raises(SsrecError, match=r"config.yaml differs .*social_symmetric: True -> "):
        run(cfg, resume=True)
    assert not (tmp_path / "b" / "results.json").exists()
    saved.write_text(text)
    run(cfg, resume=True)
    a = json.loads((tmp_path / "a" / "results.json").read_text())
    b = json.loads((tmp_path / "b" / "results.json").read_text())
    assert a["test"] == b["test"] and a["valid"] == b["valid"]
    assert a["best_epoch"] == b["best_epoch"] and b["epochs_run"] == 5
    log_a = [json.loads(x) for x in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    log_b = [json.loads(x) for x in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert [r.get("epoch") for r in log_b] == [r.get("epoch") for r in log_a]
    assert [r.get("loss") for r in log_b] == [r.get("loss") for r in log_a]
    # a changed configuration is refused
    other = load_config(None, [*base, "train.lr=0.01", f"output_dir={tmp_path / 'b'}"])
    (tmp_path / "b" / "results.json").unlink()
    with pytest.raises(Exception, match=r"config.yaml differs .*\(train.lr: 0.001 -> 0.01\)"):
        run(other, resume=True)


def test_zero_epochs_warns_that_the_model_is_untrained(planted_dir, caplog):
    cfg = load_config(None, ["model.name=MF", f"data.dataset={planted_dir}", "train.epochs=0",
                             "train.progress=false"])
    with caplog.at_level("WARNING", logger="ssrec.train"):
        result = run(cfg, write=False)
    assert result.epochs_run == 0 and result.best_epoch == 0
    assert any("untrained" in r.getMessage() for r in caplog.records)
