from __future__ import annotations

import shutil

import numpy as np
import pytest

from conftest import require_dataset
from ssrec.config import DataConfig
from ssrec.data import load_dataset
from ssrec.data.catalog import DATASETS, locate
from ssrec.errors import ConfigError, DataError


def make(tmp_path, train, test, valid=None):
    d = tmp_path / "ds"
    d.mkdir()
    (d / "train.txt").write_text(train)
    (d / "test.txt").write_text(test)
    if valid is not None:
        (d / "valid.txt").write_text(valid)
    return d


def test_cleaning_counts_are_exact(tmp_path):
    d = make(
        tmp_path,
        train="a x 5\na y 1\na x 4\nb y 5\nb z 5\nc x 5\n",  # (a,x) duplicated; (a,y) below 3
        test="a z 5\nb x 5\nb y 5\nd x 5\nc w 5\nc q 1\n",  # b,y also in train; d cold; w cold
    )
    data = load_dataset(dataset=str(d), rating_threshold=3, valid_ratio=0.0)
    rep = data.report
    assert rep["below_threshold"] == {"train": 1, "test": 1}
    assert rep["duplicates_collapsed"] == {"train": 1, "test": 0}
    assert rep["removed_pairs_also_in_train"]["test"] == 1
    assert rep["cold"]["test"] == {"users": 1, "items": 1, "interactions": 2, "kept": False}
    assert data.n_users == 3 and data.n_items == 3
    assert len(data.train) == 4 and len(data.test) == 2
    # test pairs never enter the training graph
    train_pairs = set(zip(data.train.user.tolist(), data.train.item.tolist()))
    test_pairs = set(zip(data.test.user.tolist(), data.test.item.tolist()))
    assert not train_pairs & test_pairs
    with pytest.raises(DataError, match="never seen in training"):
        load_dataset(dataset=str(d), rating_threshold=3, valid_ratio=0.0, cold="error")


def test_threshold_without_ratings_and_time_split_without_timestamps(tmp_path):
    d = make(tmp_path, "a x\nb y\n", "a y\n")
    with pytest.raises(ConfigError, match="no rating column"):
        load_dataset(dataset=str(d), rating_threshold=1)
    with pytest.raises(ConfigError, match="needs timestamps"):
        load_dataset(dataset=str(d), split="temporal")


def test_splits_are_deterministic_for_a_seed(planted_dir):
    a = load_dataset(dataset=str(planted_dir), split="ratio", seed=3)
    b = load_dataset(dataset=str(planted_dir), split="ratio", seed=3)
    c = load_dataset(dataset=str(planted_dir), split="ratio", seed=4)
    np.testing.assert_array_equal(a.test.order, b.test.order)
    np.testing.assert_array_equal(a.valid.order, b.valid.order)
    assert not np.array_equal(np.sort(a.test.order), np.sort(c.test.order))


def test_validation_carved_from_train(planted):
    v = planted.report["split"]["validation"]
    assert v["method"] == "holdout_from_train" and v["carved_from_train"] == len(planted.valid)
    train = set(zip(planted.train.user.tolist(), planted.train.item.tolist()))
    valid = set(zip(planted.valid.user.tolist(), planted.valid.item.tolist()))
    assert not train & valid


def test_missing_and_corrupted_registry_files(tmp_path, monkeypatch):
    spec = DATASETS.get("lastfm")
    monkeypatch.delenv("SSREC_DATA_DIR", raising=False)
    with pytest.raises(DataError) as err:
        locate(spec, tmp_path)
    msg = str(err.value)
    assert "data1.txt" in msg and str(tmp_path / "lastfm") in msg and "--data-dir" in msg
    (tmp_path / "lastfm").mkdir()
    for f in spec.files:
        (tmp_path / "lastfm" / f.name).write_text("1\t2\t3\n")
    with pytest.raises(DataError, match=f"expected sha256 {spec.files[0].sha256}"):
        locate(spec, tmp_path)


def test_data_dir_from_environment(tmp_path, monkeypatch, data_dir):
    require_dataset(data_dir, "lastfm")
    shutil.copytree(data_dir / "lastfm", tmp_path / "lastfm")
    monkeypatch.setenv("SSREC_DATA_DIR", str(tmp_path))
    paths = locate(DATASETS.get("lastfm"))
    assert paths["train"] == tmp_path / "lastfm" / "data1.txt"


def test_gowalla_statistics(data_dir):
    require_dataset(data_dir, "gowalla")
    desc = load_dataset(DataConfig(dataset="gowalla", data_dir=str(data_dir))).describe()
    assert desc["users"] == 29858 and desc["items"] == 40981
    assert desc["train"]["interactions"] == 810128
    assert desc["test"]["interactions"] == 217242
    assert desc["fit"]["interactions"] + desc["valid"]["interactions"] == 810128


def test_lastfm_cold_users_and_items_are_counted(data_dir):
    require_dataset(data_dir, "lastfm")
    data = load_dataset(DataConfig(dataset="lastfm", data_dir=str(data_dir)))
    # SOURCE.md: 2 test users without training interactions, 13 test items never in train
    assert data.report["cold"]["test"]["users"] == 2
    assert data.report["cold"]["test"]["items"] == 13
    assert data.n_users == 1878 and data.n_items == 4476


REPEATS = ("u1\ta\t1\t1\nu1\tb\t1\t2\nu1\tc\t1\t3\nu1\ta\t1\t4\n"   # u1 re-consumes a last
           "u2\ta\t1\t1\nu2\tb\t1\t2\nu2\tc\t1\t3\nu2\tb\t1\t4\n"
           "u3\tc\t1\t1\nu3\ta\t1\t2\nu3\tb\t1\t3\nu3\tc\t1\t4\n")


def _pairs(data, split):
    s = data.split(split)
    return sorted(zip(data.users.to_raw(s.user).tolist(), data.items.to_raw(s.item).tolist(),
                      s.timestamp.tolist()))


def test_repeats_kept_in_time_order_make_the_real_last_event_the_target(tmp_path):
    # issue 20.4: repeats collapsed to their first occurrence, so u1's target was c, not a
    p = tmp_path / "rep.tsv"
    p.write_text(REPEATS)
    kept = load_dataset(dataset=str(p), split="loo", dedup=False)
    assert _pairs(kept, "test") == [("u1", "a", 4.0), ("u2", "b", 4.0), ("u3", "c", 4.0)]
    assert _pairs(kept, "valid") == [("u1", "c", 3.0), ("u2", "c", 3.0), ("u3", "b", 3.0)]
    assert len(kept.train) == 6  # u1: a@1 b@2, u2: a@1 b@2, u3: c@1 a@2
    rep = kept.report
    assert rep["dedup"] is False and rep["repeats_kept"] == {"all": 3}
    assert rep["targets_also_in_train"] == {"test": 3, "valid": 0, "valid_also_in_test": 0}
    hist = kept.sequences.history("test")  # the model reads a, b, c before predicting a
    u1 = kept.users.index("u1")
    assert kept.items.to_raw(hist.row(u1)).tolist() == ["a", "b", "c"]
    collapsed = load_dataset(dataset=str(p), split="loo", dedup=True)
    assert collapsed.report["duplicates_collapsed"] == {"all": 3}
    # graph models: each pair once, at its first event (a re-consumption is no new item)
    assert ("u1", "a", 1.0) in _pairs(collapsed, "train")
    assert ("u1", "c", 3.0) in _pairs(collapsed, "test")


def test_dedup_auto_follows_the_model_family(tmp_path):
    from ssrec.config import load_config
    from ssrec.training.run import resolve_data_needs

    p = tmp_path / "rep.tsv"
    p.write_text(REPEATS)
    seq = resolve_data_needs(load_config(None, [f"data.dataset={p}", "model.name=SASRec"]))
    graph = resolve_data_needs(load_config(None, [f"data.dataset={p}", "model.name=LightGCN"]))
    assert (seq.data.dedup, graph.data.dedup) == (False, True)
    with pytest.raises(ConfigError, match="data.dedup=false keeps repeated events.*"
                                          "eval.exclude_seen=false"):
        resolve_data_needs(load_config(None, [f"data.dataset={p}", "model.name=LightGCN",
                                              "data.dedup=false"]))
    ok = resolve_data_needs(load_config(None, [f"data.dataset={p}", "model.name=LightGCN",
                                               "data.dedup=false", "eval.exclude_seen=false"]))
    assert ok.data.dedup is False


def test_a_separator_that_is_not_one_character_is_a_config_error(tmp_path):
    p = tmp_path / "r.tsv"
    p.write_text("user\titem\nu1\ti1\nu2\ti1\n")
    with pytest.raises(ConfigError, match="data.sep: separator 'xx' is not one character"):
        load_dataset(dataset=str(p), sep="xx")


def test_silent_choices_are_counted_and_said_once(tmp_path, caplog):
    # issue 20.11: ratings read without a threshold, an adjacency line with no items, users
    # without a test target (1-2 events under leave-one-out)
    p = tmp_path / "r.tsv"
    p.write_text("".join(f"u{u}\ti{(u + k) % 6}\t{k + 1}\t{k}\n" for u in range(4)
                         for k in range(5)) + "solo\ti1\t5\t9\npair\ti2\t4\t1\npair\ti3\t3\t2\n")
    with caplog.at_level("INFO", logger="ssrec"):
        data = load_dataset(dataset=str(p), split="loo")
    msgs = [r.getMessage() for r in caplog.records]
    rated = [m for m in msgs if "every row counts as a positive" in m]
    assert rated == [f"{p} has a rating column but data.rating_threshold is not set, so every "
                     "row counts as a positive (set data.rating_threshold to keep only the rows "
                     "rated at or above it)"]
    # solo: 1 event (train only); pair: 2 events (train + test, no validation)
    assert data.report["users_without_target"] == {"test": 1, "valid": 2}
    why = ("with none in the split: too few events, e.g. 1-2 under leave-one-out, or none in "
           "a given file; 0 whose target was dropped as cold)")
    assert f"{p}: users without a test target: 1 of 6 (1 {why}; without a validation target: " \
           f"2 of 6 (2 {why}; they are not scored there" in msgs
    assert data.report["users_without_target_reason"] == {
        "test": {"no_target_in_split": 1, "target_dropped_as_cold": 0},
        "valid": {"no_target_in_split": 2, "target_dropped_as_cold": 0}}
    assert [n["level"] for n in data.report["notes"]] == ["info", "info"]
    thresholded = load_dataset(dataset=str(p), split="loo", rating_threshold=1)
    assert not any("every row" in n["message"] for n in thresholded.report["notes"])

    adj = tmp_path / "adj.txt"
    adj.write_text("1 2 3 4 5\n2\n3 4 5 6 7 8\n4 1 2\n5 5 4 3 2 1\n6\n")
    data = load_dataset(dataset=str(adj), split="loo")
    assert data.report["lines_without_items"] == {"all": 2}
    assert data.report["notes"][0] == {
        "level": "warning",
        "message": f"{adj}: 2 line(s) name a user and no item (line 2, 6): no interaction "
                   "comes from them"}
    assert "2" not in data.users and "6" not in data.users
