"""The social-relation loader: id mapping, dropped-link counts, symmetrising, reports."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import require_dataset
from ssrec.cli import main
from ssrec.config import DataConfig
from ssrec.data import load_dataset
from ssrec.errors import ConfigError, DataError


def make(tmp_path, social: str | None, social_name: str = "social.txt"):
    d = tmp_path / "ds"
    d.mkdir()
    # users with training interactions: a, b, c, d; e only in test; z nowhere
    (d / "train.txt").write_text("a x\na y\nb x\nb z\nc y\nd z\nd x\n")
    (d / "test.txt").write_text("a z\ne x\n")
    if social is not None:
        (d / social_name).write_text(social)
    return d


LINKS = (
    "a b 1\n"    # kept
    "b a 2\n"    # kept (reverse of line 1: a mutual pair)
    "a a 1\n"    # self link
    "a b 5\n"    # repeat of line 1 (its weight is not used)
    "a e 1\n"    # e has no training interaction -> unknown
    "z a 1\n"    # z is in no file -> unknown
    "e e 1\n"    # unknown user (checked before self link)
    "b c 0.5\n"  # kept
    "c d 3\n"    # kept
)


def edges(m):
    coo = m.tocoo()
    return sorted(zip(coo.row.tolist(), coo.col.tolist()))


def test_dropped_link_counts_are_exact(tmp_path):
    d = make(tmp_path, LINKS)
    data = load_dataset(dataset=str(d), valid_ratio=0.0, social=True)
    rep = data.report["social"]
    assert rep["rows_read"] == 9
    assert rep["dropped"] == {"unknown_user": 3, "self_link": 1, "duplicate": 1}
    assert rep["unknown_user_ids"] == 2  # e and z
    assert rep["links"] == rep["links_as_given"] == 4
    assert rep["reciprocity"] == pytest.approx(2 / 4)  # a->b and b->a of 4 links
    assert rep["users_with_links"] == 4 and rep["users"] == 4
    assert not rep["symmetric"] and rep["added_by_symmetrising"] == 0
    # the same id map as the interactions
    idx = {u: data.users.index(u) for u in "abcd"}
    s = data.social
    assert s is not None and s.matrix.shape == (4, 4)
    assert edges(s.matrix) == sorted([(idx["a"], idx["b"]), (idx["b"], idx["a"]),
                                      (idx["b"], idx["c"]), (idx["c"], idx["d"])])
    assert s.matrix.dtype == np.float32 and set(s.matrix.data.tolist()) == {1.0}
    w = s.weight.toarray()
    assert w[idx["a"], idx["b"]] == 1.0  # the first occurrence's weight
    assert w[idx["b"], idx["a"]] == 2.0 and w[idx["b"], idx["c"]] == 0.5
    assert w[idx["c"], idx["d"]] == 3.0
    # the interactions are the same with and without the social file
    plain = load_dataset(dataset=str(d), valid_ratio=0.0)
    assert plain.social is None and "social" not in plain.report
    np.testing.assert_array_equal(plain.train.user, data.train.user)
    np.testing.assert_array_equal(plain.train.item, data.train.item)


def test_symmetrising_adds_reverse_links_with_their_weight(tmp_path):
    d = make(tmp_path, LINKS)
    data = load_dataset(dataset=str(d), valid_ratio=0.0, social=True, social_symmetric=True)
    rep = data.report["social"]
    assert rep["dropped"] == {"unknown_user": 3, "self_link": 1, "duplicate": 1}
    assert rep["links_as_given"] == 4 and rep["reciprocity_as_given"] == pytest.approx(0.5)
    assert rep["added_by_symmetrising"] == 2 and rep["links"] == 6
    assert rep["reciprocity"] == 1.0 and data.social.reciprocity() == 1.0
    m = data.social.matrix.toarray()
    np.testing.assert_array_equal(m, m.T)
    idx = {u: data.users.index(u) for u in "abcd"}
    w = data.social.weight.toarray()
    assert w[idx["c"], idx["b"]] == 0.5 and w[idx["d"], idx["c"]] == 3.0
    assert w[idx["a"], idx["b"]] == 1.0 and w[idx["b"], idx["a"]] == 2.0  # both given: kept


def test_two_column_file_and_folder_detection(tmp_path):
    d = make(tmp_path, "a\tb\nb\tc\n", social_name="trust.txt")
    data = load_dataset(dataset=str(d), valid_ratio=0.0, social=True)
    assert data.social.n_links == 2 and data.social.weight is None
    assert data.report["files"]["social"].endswith("trust.txt")


def test_missing_social_file_is_a_config_error(tmp_path):
    d = make(tmp_path, None)
    with pytest.raises(ConfigError, match="has no social file"):
        load_dataset(dataset=str(d), social=True)
    with pytest.raises(ConfigError, match="'gowalla' has no social"):
        load_dataset(DataConfig(dataset="gowalla", social=True))
    with pytest.raises(ConfigError, match="single file"):
        load_dataset(dataset=str(d / "train.txt"), social=True)


def test_malformed_social_line_names_file_and_line(tmp_path):
    d = make(tmp_path, "a b 1\nb c\n")
    with pytest.raises(DataError, match=r"social\.txt, line 2: expected 3 fields"):
        load_dataset(dataset=str(d), social=True)


def test_describe_reports_the_social_graph(tmp_path, capsys):
    d = make(tmp_path, LINKS)
    assert main(["data", "describe", str(d), "--json"]) == 0
    desc = json.loads(capsys.readouterr().out)
    assert desc["social"]["links"] == 4
    assert desc["social"]["dropped"] == {"unknown_user": 3, "self_link": 1, "duplicate": 1}
    assert main(["data", "describe", str(d)]) == 0
    out = capsys.readouterr().out
    assert "social: 4 links among 4 users" in out and "reciprocity 0.500" in out
    assert "3 touching users without training interactions (2 ids), 1 self links, 1 repeats" in out
    assert main(["data", "describe", str(d), "--set", "data.social=false", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["social"] is None


def test_real_social_graphs(data_dir):
    """Figures computed from the files (SOURCE.md): every lastfm friendship is listed both ways;
    yelp-diffnet's links are directed."""
    require_dataset(data_dir, "lastfm")
    require_dataset(data_dir, "yelp-diffnet")
    lf = load_dataset(DataConfig(dataset="lastfm", data_dir=str(data_dir), social=True))
    rep = lf.report["social"]
    assert rep["rows_read"] == 25434
    # 14 users of the trust network have no training interaction (1,892 vs 1,878 users)
    assert rep["dropped"] == {"unknown_user": 252, "self_link": 0, "duplicate": 0}
    assert rep["unknown_user_ids"] == 14
    assert rep["links"] == 25182 and rep["reciprocity"] == 1.0
    yelp = load_dataset(DataConfig(dataset="yelp-diffnet", data_dir=str(data_dir), social=True))
    rep = yelp.report["social"]
    assert rep["rows_read"] == 143765 and rep["links"] == 143752
    assert rep["dropped"] == {"unknown_user": 13, "self_link": 0, "duplicate": 0}
    # SOURCE.md: 28,516 of the 143,765 rows have their reverse present
    assert rep["reciprocity"] == pytest.approx(28512 / 143752)
    assert yelp.social.matrix.shape == (17235, 17235)
