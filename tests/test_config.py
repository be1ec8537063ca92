import pytest

from ssrec.config import load_config
from ssrec.models import dump_config, model_class, model_config, resolved_config
from ssrec.errors import ConfigError


def test_yaml_file_overrides_and_types(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("seed: 3\ntrain:\n  lr: 1e-4\n  epochs: 7\nmodel:\n  name: simgcl\n  eps: 0.3\n")
    cfg = load_config(p, ["model.tau=0.5", "eval.ks=[5, 50]"], **{"train.epochs": 9})
    assert cfg.train.lr == 1e-4 and isinstance(cfg.train.lr, float)
    assert cfg.train.epochs == 9 and cfg.seed == 3 and cfg.eval.ks == [5, 50]
    m = model_config(cfg)
    # cl_weight comes from the lastfm preset (the default dataset); user values win over it
    assert (m.eps, m.tau, m.cl_weight) == (0.3, 0.5, 0.1)
    assert cfg.train.min_epochs == 30
    bare = load_config(p, ["presets=false"])
    assert model_config(bare).cl_weight == 0.5 and bare.train.min_epochs == 0
    assert model_class(cfg).name == "SimGCL"
    again = tmp_path / "again.yaml"
    again.write_text(dump_config(cfg))
    cfg2 = load_config(again)
    assert resolved_config(cfg2) == resolved_config(cfg)


def test_unknown_key_names_file_line_and_suggestion(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("train:\n  epochs: 3\n  learning_rate: 0.1\n")
    with pytest.raises(ConfigError) as err:
        load_config(p)
    msg = str(err.value)
    assert f"{p}:3:" in msg and "train.learning_rate" in msg
    # the model section is validated where the model is resolved, still naming file and line
    p.write_text("model:\n  name: SimGCL\n  temperature: 0.1\n  tua: 1\n")
    with pytest.raises(ConfigError, match="unknown key 'model.temperature'") as err:
        model_config(load_config(p))
    assert f"{p}:3:" in str(err.value)
    with pytest.raises(ConfigError, match="did you mean 'model.tau'") as err:
        model_config(load_config(None, ["model.tua=0.3"]))
    assert "--set model.tua=0.3" in str(err.value)


@pytest.mark.parametrize("override, fragment", [
    ("model.tau=0", "model.tau: Input should be greater than 0"),
    ("model.eps=-1", "model.eps"),
    ("data.valid_ratio=1.0", "data.valid_ratio"),
    ("data.ratios=[0.5, 0.5, 0.5]", "summing to 1"),
    ("train.monitor=auc@20", "train.monitor 'auc@20' is not among"),
    ("eval.metrics=[recal]", "did you mean 'recall'"),
    ("train.lr=fast", "train.lr"),
    ("model.name=SimGLC", "did you mean 'SimGCL'"),
])
def test_invalid_values(override, fragment):
    with pytest.raises(ConfigError) as err:
        model_config(load_config(None, [override]))
    assert fragment in str(err.value)
    assert f"--set {override}" in str(err.value) or "model.name" in override


def test_bad_yaml_names_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("train:\n  epochs: [1\n")
    with pytest.raises(ConfigError, match=rf"{p}:\d+: invalid YAML"):
        load_config(p)


def test_preset_model_entries_may_carry_training_settings(monkeypatch, tmp_path):
    import ssrec.config as config

    (tmp_path / "toy.yaml").write_text(
        "train: {epochs: 40, patience: 5}\n"
        "models:\n  LightGCN: {n_layers: 2, train: {lr: 0.005, epochs: 120}}\n")
    monkeypatch.setattr(config, "PRESET_DIR", tmp_path)
    lgn = load_config(None, ["data.dataset=toy", "model.name=LightGCN"])
    assert (lgn.train.lr, lgn.train.epochs, lgn.train.patience) == (0.005, 120, 5)
    assert model_config(lgn).n_layers == 2
    mine = load_config(None, ["data.dataset=toy", "model.name=LightGCN", "train.epochs=7"])
    assert mine.train.epochs == 7 and mine.train.lr == 0.005  # the user's value wins
    other = load_config(None, ["data.dataset=toy", "model.name=MF"])
    assert (other.train.lr, other.train.epochs) == (1e-3, 40)


def test_a_preset_inherits_another_below_its_own_values(monkeypatch, tmp_path):
    import ssrec.config as config

    (tmp_path / "base.yaml").write_text(
        "train: {epochs: 40}\nmodels:\n  SimGCL: {cl_weight: 0.02, eps: 0.2}\n")
    (tmp_path / "child.yaml").write_text(
        "inherit: base\ntrain: {patience: 3}\nmodels:\n  SimGCL: {cl_weight: 0.1}\n")
    monkeypatch.setattr(config, "PRESET_DIR", tmp_path)
    cfg = load_config(None, ["data.dataset=child", "model.name=SimGCL"])
    assert (cfg.train.epochs, cfg.train.patience) == (40, 3)
    m = model_config(cfg)
    assert (m.cl_weight, m.eps) == (0.1, 0.2)


def test_duplicate_yaml_key_is_an_error_naming_file_and_line(tmp_path):
    # issue 20.11: PyYAML kept the last of two `epochs:` silently
    p = tmp_path / "dup.yaml"
    p.write_text("train:\n  epochs: 3\n  lr: 0.01\n  epochs: 5\nmodel: {name: MF}\n")
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert str(err.value) == (f"{p}:4: invalid YAML: duplicate key 'epochs' (first given on "
                              "line 2)")
    p.write_text("base: &b {epochs: 3}\ntrain:\n  <<: *b\n  lr: 0.01\n")  # merge keys still work
    with pytest.raises(ConfigError, match="unknown key 'base'"):
        load_config(p)


def test_non_utf8_config_names_the_line(tmp_path):
    p = tmp_path / "latin1.yaml"
    p.write_bytes(b"seed: 1\ntrain:\n  epochs: 2 # \xe9t\xe9\n")
    with pytest.raises(ConfigError, match=rf"{p}:3: not UTF-8 text \(byte 0xe9 at offset 29\)"):
        load_config(p)


def test_epoch_line_shows_validation_seconds(caplog):
    from types import SimpleNamespace

    from ssrec.training.callbacks import ConsoleLogger

    rec = {"epoch": 3, "loss": {"total": 0.5}, "train_seconds": 1.23, "valid_seconds": 0.46,
           "valid": {"ndcg@20": 0.1, "recall@10": 0.2}, "improved": True}
    with caplog.at_level("INFO", logger="ssrec.train"):
        ConsoleLogger().on_epoch_end(SimpleNamespace(monitor="ndcg@20"), rec)
    assert caplog.records[-1].getMessage() == ("epoch   3 | loss total 0.5000 | train 1.2s + "
                                               "valid 0.5s | valid ndcg@20 0.1000 recall@10 "
                                               "0.2000 *")
