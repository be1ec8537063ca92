"""The synthetic data generator (issue 18 part 3): power-law fits, the written dataset, its
degree shape and the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ssrec.cli import main
from ssrec.data import load_dataset
from ssrec.data.synth import (GOWALLA, DegreeProfile, fit_power_law, fit_profile,
                              format_pairs, parse_count, scaled_shape, synthesize)
from ssrec.errors import ConfigError


def test_fit_power_law_recovers_a_known_exponent():
    rng = np.random.default_rng(0)
    prof = DegreeProfile(alpha=2.5, xmin=5, xmax=100000, body={}, n_tail=1)
    x = prof.draw(20000, rng)
    fit = fit_power_law(x, xmin=5)
    assert abs(fit.alpha - 2.5) < 4 * fit.alpha_se
    scan = fit_power_law(np.concatenate([x, rng.integers(1, 5, 3000)]))  # a body below 5
    assert scan.xmin in (4, 5, 6) and abs(scan.alpha - 2.5) < 0.1


def test_format_pairs_writes_what_python_writes():
    u = np.array([0, 9, 10, 12345, 7])
    i = np.array([3, 100, 0, 1, 99999999])
    assert format_pairs(u, i).decode() == "".join(f"{a}\t{b}\n" for a, b in zip(u, i))
    assert format_pairs(u[:0], i[:0]) == b""


def test_synthesize_writes_a_seeded_dataset_ssrec_reads(tmp_path):
    meta = synthesize(30000, tmp_path / "a", seed=3)
    again = synthesize(30000, tmp_path / "b", seed=3)
    for name in ("train", "valid", "test"):
        assert (tmp_path / "a" / f"{name}.txt").read_bytes() == \
            (tmp_path / "b" / f"{name}.txt").read_bytes()
    assert meta == {**again, "n_requested": meta["n_requested"]}
    assert meta["interactions"] == 30000 - meta["pairs_missing_after_redraws"]
    shape = scaled_shape(30000)
    assert meta["users"] == shape["users"] and meta["items"] == shape["items"]
    assert meta["density"] == pytest.approx(GOWALLA.interactions
                                            / (GOWALLA.users * GOWALLA.items), rel=0.01)
    assert json.loads((tmp_path / "a" / "synth.json").read_text()) == meta
    d = load_dataset(dataset=str(tmp_path / "a"))
    rows = meta["rows"]
    assert len(d.train) == rows["train"]
    assert d.report["split"]["validation"]["method"] == "given"
    # every user keeps a training row; test about 20 %, validation about 10 %
    assert d.n_users == meta["users"]
    assert rows["test"] / meta["interactions"] == pytest.approx(0.2, abs=0.01)
    assert rows["valid"] / meta["interactions"] == pytest.approx(0.1, abs=0.01)
    with pytest.raises(ConfigError):
        synthesize(10, tmp_path / "c")


def test_synthetic_degrees_keep_gowallas_shape(tmp_path):
    meta = synthesize(400000, tmp_path / "s", seed=0, valid_ratio=0, test_ratio=0)
    pairs = np.loadtxt(tmp_path / "s" / "train.txt", dtype=np.int64)
    prof = fit_profile(pairs[:, 0], pairs[:, 1])
    # the tails' exponents (fits of independent samples: within a few standard errors)
    assert abs(prof.user_fit.alpha - GOWALLA.user.alpha) < 0.25
    assert abs(prof.item_fit.alpha - GOWALLA.item.alpha) < 0.25
    du = np.bincount(pairs[:, 0])
    assert du.mean() == pytest.approx(meta["interactions"] / meta["users"])
    # degree / mean: the median user is about 0.6 of the mean in gowalla (16 / 27.1)
    assert np.median(du / du.mean()) == pytest.approx(16 / 27.13, abs=0.08)


def test_parse_count():
    assert parse_count("20M") == 20_000_000
    assert parse_count("500k") == 500_000
    assert parse_count("1_000") == 1000
    with pytest.raises(ConfigError):
        parse_count("lots")


def test_cli_data_synth(tmp_path, capsys):
    assert main(["data", "synth", "--interactions", "5k", "--out", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert "5,000 interactions" in out and "--dataset" in out
    assert (tmp_path / "d" / "train.txt").exists()


@pytest.mark.data
def test_gowalla_profile_is_the_fit_of_gowallas_training_split(data_dir):
    from conftest import require_dataset

    require_dataset(data_dir, "gowalla")
    d = load_dataset(dataset="gowalla", data_dir=str(data_dir), valid_ratio=0.0)  # train.txt
    prof = fit_profile(d.train.user, d.train.item, "gowalla")
    for got, want in ((prof.user, GOWALLA.user), (prof.item, GOWALLA.item)):
        assert got.alpha == pytest.approx(want.alpha, abs=1e-5)
        assert (got.xmin, got.xmax, got.n_tail, got.body) == \
            (want.xmin, want.xmax, want.n_tail, want.body)
    assert (prof.users, prof.items, prof.interactions) == \
        (GOWALLA.users, GOWALLA.items, GOWALLA.interactions)
