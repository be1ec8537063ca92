"""Multi-behaviour data: readers, counts per behaviour, the target-only validation split, the
target-only mask, the merged graph and the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import require_dataset, write_planted_mb
from ssrec.cli import main
from ssrec.config import EvalConfig
from ssrec.data import load_dataset
from ssrec.data.graph import normalized_adjacency
from ssrec.errors import ConfigError, DataError
from ssrec.evaluation import Evaluator
from ssrec.models import MODELS


def _pairs(data, inter) -> set[tuple[str, str]]:
    return set(zip(data.users.raw_ids[inter.user].tolist(),
                   data.items.raw_ids[inter.item].tolist()))


def _file_pairs(path) -> set[tuple[str, str]]:
    return {tuple(line.split()) for line in path.read_text().splitlines() if line.strip()}


def test_planted_counts_per_behaviour_are_exact(planted_mb, planted_mb_dir):
    mb = planted_mb.behaviors
    assert mb.names == ("view", "cart", "buy") and mb.target == "buy"
    assert mb.auxiliary == ("view", "cart")
    beh = planted_mb.report["behaviors"]
    # write_planted_mb: 60 users × (9 views, 4 carts, 4 buys, 2 test buys)
    assert {b: beh["train"][b]["interactions"] for b in mb.names} == \
        {"view": 540, "cart": 240, "buy": 240}
    assert beh["train"]["buy"]["fit"] == 180
    assert len(planted_mb.train) == 180 and len(planted_mb.valid) == 60
    assert len(planted_mb.test) == 120
    assert beh["test_pairs_in"] == {"view": 120, "cart": 60}
    assert beh["masked"] == ["buy"] and beh["duplicates_collapsed"] == {"view": 0, "cart": 0}
    # the auxiliary behaviours keep every row of their files
    for b in ("view", "cart"):
        assert _pairs(planted_mb, mb.train[b]) == _file_pairs(planted_mb_dir / f"train_{b}.txt")
    # the target's entry is the training split itself (validation rows removed)
    assert mb.train["buy"] is planted_mb.train
    # 40 items: every item is viewed (noise views reach the other groups' items)
    assert planted_mb.n_users == 60 and planted_mb.n_items == 40


def test_validation_is_one_target_row_per_user_never_an_auxiliary_one(planted_mb,
                                                                      planted_mb_dir):
    buy = _file_pairs(planted_mb_dir / "train_buy.txt")
    valid, fit = _pairs(planted_mb, planted_mb.valid), _pairs(planted_mb, planted_mb.train)
    assert valid | fit == buy and not valid & fit
    assert np.bincount(planted_mb.valid.user, minlength=60).tolist() == [1] * 60
    split = planted_mb.report["split"]["validation"]
    assert split == {"method": "one_from_train", "per_user": 1, "seed": 2020,
                     "carved_from_train": 60, "behavior": "buy", "auxiliary": "keep"}
    # the same seed carves the same rows; another seed other rows
    again = load_dataset(dataset=str(planted_mb_dir))
    assert _pairs(again, again.valid) == valid
    other = load_dataset(dataset=str(planted_mb_dir), seed=7)
    assert _pairs(other, other.valid) != valid


def test_validation_pairs_leave_the_auxiliary_behaviours_when_asked(planted_mb,
                                                                     planted_mb_dir, planted_dir):
    # the planted test purchases were viewed, so "auto" keeps; "drop" removes every validation
    # pair from view (each validation buy is among the user's viewed c[0:8]) and from cart
    # where it was carted (c[0:3])
    data = load_dataset(dataset=str(planted_mb_dir), valid_auxiliary="drop")
    held = data.report["split"]["validation"]
    valid = _pairs(data, data.valid)
    assert _pairs(data, data.valid) == _pairs(planted_mb, planted_mb.valid)  # same carve
    in_cart = len(valid & _file_pairs(planted_mb_dir / "train_cart.txt"))
    assert held["auxiliary"] == "drop"
    assert held["auxiliary_rows_removed"] == {"view": 60, "cart": in_cart} and in_cart > 0
    mb = data.behaviors
    for b in ("view", "cart"):
        assert not valid & _pairs(data, mb.train[b])
    assert data.report["behaviors"]["valid_pairs_in"] == {"view": 0, "cart": 0}
    assert mb.train["view"].user.size == 540 - 60
    with pytest.raises(ConfigError, match="valid_auxiliary=drop needs multi-behaviour data"):
        load_dataset(dataset=str(planted_dir), valid_auxiliary="drop")


def test_only_the_target_behaviour_is_masked(planted_mb):
    data = planted_mb
    view = data.behaviors.csr("view")
    for split, with_valid in (("valid", False), ("test", True)):
        ev = Evaluator.from_config(data, split, EvalConfig(ks=[5]), MODELS.get("LightGCN"), 0)
        expect = data.train_csr + (data.valid_csr if with_valid else 0)
        assert (ev.mask != (expect > 0)).nnz == 0
        desc = ev.describe()
        assert desc["behaviors"] == {"target": "buy", "masked": ["buy"],
                                     "not_masked": ["view", "cart"]}
        assert "view, cart items stay candidates" in desc["masked_items"]
    # every test target was viewed, and none is masked: a viewed item stays a candidate
    test = data.test_csr
    assert (test.multiply(view)).nnz == 120
    assert ev.mask.multiply(test).nnz == 0


def test_top_k_may_hold_viewed_items_but_never_bought_ones(planted_mb):
    data = planted_mb

    class ViewLover:  # scores the user's viewed and bought items highest
        def score(self, users):
            s = data.behaviors.csr("view") + data.behaviors.csr("buy")
            return torch.from_numpy(s[users.numpy()].toarray().astype(np.float32))

    ev = Evaluator.from_config(data, "test", EvalConfig(ks=[5]), MODELS.get("LightGCN"), 0)
    users = torch.arange(data.n_users)
    scores = ViewLover().score(users)
    mask = torch.from_numpy(ev.mask.toarray()).bool()
    top = scores.masked_fill(mask, -torch.inf).topk(5).indices
    bought = torch.from_numpy((data.train_csr + data.valid_csr).toarray() > 0)
    viewed = torch.from_numpy(data.behaviors.csr("view").toarray() > 0)
    assert not bought.gather(1, top).any()
    assert viewed.gather(1, top).float().mean() > 0.7


def test_merged_graph_is_the_union_of_the_behaviours(planted_mb_dir):
    data = load_dataset(dataset=str(planted_mb_dir), behavior_graph="merged")
    mb = data.behaviors
    union = ((mb.csr("view") + mb.csr("cart") + mb.csr("buy")) > 0).tocoo()
    ref = normalized_adjacency(union.row.astype(np.int64), union.col.astype(np.int64),
                               data.n_users, data.n_items).to_dense()
    torch.testing.assert_close(data.norm_adj.to_dense(), ref)
    # validation buys stay out of the buy graph but stay in the view graph
    valid = data.valid_csr
    assert valid.multiply(mb.csr("buy")).nnz == 0 and valid.multiply(mb.csr("view")).nnz == 60
    # target graph by default: the fit rows only
    target = load_dataset(dataset=str(planted_mb_dir))
    tr = target.train_csr.tocoo()
    torch.testing.assert_close(target.norm_adj.to_dense(), normalized_adjacency(
        tr.row.astype(np.int64), tr.col.astype(np.int64), 60, 40).to_dense())


def test_target_behaviour_option(planted_mb_dir):
    cart = load_dataset(dataset=str(planted_mb_dir), target_behavior="cart")
    assert cart.behaviors.target == "cart" and cart.behaviors.auxiliary == ("view", "buy")
    assert cart.report["behaviors"]["train"]["cart"]["interactions"] == 240
    with pytest.raises(ConfigError, match="has no behaviour 'like'.*view, cart, buy"):
        load_dataset(dataset=str(planted_mb_dir), target_behavior="like")


def test_single_behaviour_data_refuses_multi_behaviour_options(planted_dir, planted):
    with pytest.raises(ConfigError, match="data.target_behavior='buy' is set"):
        load_dataset(dataset=str(planted_dir), target_behavior="buy")
    assert planted.behaviors is None
    with pytest.raises(ConfigError, match="data.behavior_graph=merged needs multi-behaviour"):
        load_dataset(dataset=str(planted_dir), behavior_graph="merged")
    with pytest.raises(ConfigError, match="multi-behaviour model"):
        MODELS.get("MBCGCN").build(planted)


def test_malformed_behaviour_file_names_file_and_line(tmp_path):
    path = write_planted_mb(tmp_path / "mb")
    rows = (path / "train_cart.txt").read_text().splitlines()
    rows[4] = "u1"
    (path / "train_cart.txt").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as exc:
        load_dataset(dataset=str(path), format="pairs")
    assert "train_cart.txt" in str(exc.value) and "line 5" in str(exc.value)


def test_describe_prints_counts_per_behaviour(planted_mb_dir, capsys):
    assert main(["data", "describe", str(planted_mb_dir)]) == 0
    out = capsys.readouterr().out
    assert "behaviours: view -> cart -> buy; target buy" in out
    assert "view               540        60        40" in out
    assert "buy                240        60        40   (180 after the validation" in out
    assert "test pairs already in an auxiliary behaviour (stay candidates): view 120, cart 60" \
        in out


@pytest.mark.parametrize("name, rows, n_users, n_items, test, in_aux, cold", [
    # SOURCE.md statistics: training rows per behaviour, test pairs also viewed / carted
    ("tmall-mb", {"view": 858505, "cart": 180027, "buy": 92180}, 15449, 11953, 15449,
     {"view": 12315, "cart": 3024}, 0),
    # 208 test items (211 pairs) occur in no training file: cold, dropped; no test pair is in
    # view or cart, so the validation pairs leave them too, and 4 more test pairs turn cold
    ("retailrocket-mb", {"view": 75374, "cart": 12456, "buy": 9551}, 2174, None, 2174 - 215,
     {"view": 0, "cart": 0}, 215),
    ("beibei-mini-mb", {"view": 111988, "cart": 29315, "buy": 12629}, 1000, 7833, 1000,
     {"view": 635, "cart": 595}, 0),
])
def test_registered_multi_behaviour_datasets_as_read(data_dir, name, rows, n_users, n_items,
                                                     test, in_aux, cold):
    require_dataset(data_dir, name)
    data = load_dataset(dataset=name, data_dir=str(data_dir))
    beh = data.report["behaviors"]
    held = data.report["split"]["validation"]
    removed = held.get("auxiliary_rows_removed", {})
    assert held["auxiliary"] == ("drop" if in_aux == {"view": 0, "cart": 0} else "keep")
    assert {b: beh["train"][b]["interactions"] + removed.get(b, 0) for b in rows} == rows
    if removed:  # validation looks like the test: its pairs are in no auxiliary behaviour
        assert beh["valid_pairs_in"] == {"view": 0, "cart": 0} and min(removed.values()) > 0
    assert data.n_users == n_users and len(data.test) == test
    if n_items is not None:
        assert data.n_items == n_items
    assert beh["test_pairs_in"] == in_aux
    assert data.report["cold"]["test"]["interactions"] == cold
    # a validation pair is cold only when its item is in no training behaviour
    vcold = data.report["cold"]["valid"]
    assert vcold.get("test_input", {"interactions": 0})["interactions"] <= vcold["interactions"]
    # the validation rows come from the buy rows: one per user with two or more buys
    assert len(data.train) + data.report["split"]["validation"]["carved_from_train"] == rows["buy"]


# -- one file with a behaviour column (data.behavior_column) ---------------------------------


def _column_layout(src, dst, header: str | None = None, sep: str = " ",
                   test_column: bool = False, seed: int = 0):
    """Write the planted per-behaviour files of ``src`` as one ``train.txt`` with a behaviour
    column (``user item behaviour timestamp``), the behaviours interleaved at random but each
    behaviour's rows in their file order, plus ``test.txt`` (with the column when
    ``test_column``)."""
    rng = np.random.default_rng(seed)
    rows = []
    for b in ("view", "cart", "buy"):
        lines = [x.split() for x in (src / f"train_{b}.txt").read_text().splitlines() if x]
        rows.append([[*x, b] for x in lines])
    out, nxt = [], [0, 0, 0]
    while any(n < len(r) for n, r in zip(nxt, rows)):
        k = int(rng.choice([j for j in range(3) if nxt[j] < len(rows[j])]))
        out.append(rows[k][nxt[k]] + [str(1000 + len(out))])
        nxt[k] += 1
    dst.mkdir(parents=True)
    head = [header] if header else []
    (dst / "train.txt").write_text("\n".join(head + [sep.join(x) for x in out]) + "\n")
    test = [x.split() for x in (src / "test.txt").read_text().splitlines() if x]
    (dst / "test.txt").write_text("\n".join(
        ([header] if header and test_column else ["user" + sep + "item"] if header else []) +
        [sep.join(x + (["buy", "1"] if test_column else [])) for x in test]) + "\n")
    return dst


def _same_data(a, b):
    """Equal id maps, splits, per-behaviour rows and behaviour report."""
    assert a.users.raw_ids.tolist() == b.users.raw_ids.tolist()
    assert a.items.raw_ids.tolist() == b.items.raw_ids.tolist()
    for s in ("train", "valid", "test"):
        x, y = a.split(s), b.split(s)
        assert np.array_equal(x.user, y.user) and np.array_equal(x.item, y.item), s
    assert a.behaviors.names == b.behaviors.names and a.behaviors.target == b.behaviors.target
    for k in a.behaviors.names:
        x, y = a.behaviors.train[k], b.behaviors.train[k]
        assert np.array_equal(x.user, y.user) and np.array_equal(x.item, y.item), k
    assert a.report["behaviors"] == b.report["behaviors"]
    assert a.report["split"] == b.report["split"]


@pytest.mark.parametrize("layout", ["field", "header", "header+test-column"])
def test_behavior_column_gives_the_same_data_as_one_file_per_behaviour(planted_mb,
                                                                       planted_mb_dir,
                                                                       tmp_path, layout):
    if layout == "field":  # user item behaviour timestamp, no header
        path = _column_layout(planted_mb_dir, tmp_path / "col")
        column: str | int = 3
    else:  # a csv header naming the column; the test file with or without it
        path = _column_layout(planted_mb_dir, tmp_path / "col", sep=",",
                              header="user_id,item_id,Behavior_Type,timestamp",
                              test_column=layout.endswith("column"))
        column = "behavior_type"
    data = load_dataset(dataset=str(path), behavior_column=column)
    _same_data(planted_mb, data)
    beh = data.report["behaviors"]
    assert {b: beh["train"][b]["interactions"] for b in beh["order"]} == \
        {"view": 540, "cart": 240, "buy": 240}
    assert data.report["behavior_column"]["rows"] == {"view": 540, "cart": 240, "buy": 240}
    # the order and the target come from data.behaviors / data.target_behavior
    options = dict(dataset=str(path), behavior_column=column, target_behavior="cart",
                   behaviors=["buy", "view", "cart"])
    if layout.endswith("column"):  # its test rows say buy
        with pytest.raises(DataError, match="line 2: .* every row must be 'cart'"):
            load_dataset(**options)
        return
    cart = load_dataset(**options)
    assert cart.behaviors.names == ("buy", "view", "cart") and cart.behaviors.target == "cart"
    assert len(cart.train) + len(cart.valid) == 240
    ref = load_dataset(dataset=str(planted_mb_dir), target_behavior="cart")
    assert cart.behaviors.csr("view").nnz == ref.behaviors.csr("view").nnz == 540


def test_behavior_column_errors_name_file_line_and_field(planted_mb_dir, tmp_path, capsys):
    path = _column_layout(planted_mb_dir, tmp_path / "col", test_column=True)
    rows = (path / "train.txt").read_text().splitlines()
    rows[6] = rows[6].rsplit(" ", 2)[0] + " clik 7"
    (path / "train.txt").write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as exc:
        load_dataset(dataset=str(path), behavior_column=3, behaviors=["view", "cart", "buy"])
    assert str(exc.value) == (f"{path / 'train.txt'}, line 7: behaviour 'clik' (field 3) is not "
                              "one of data.behaviors: view, cart, buy")
    with pytest.raises(DataError, match=r"train.txt, line 1: no behaviour field: "
                                        r"data.behavior_column=5 but the line has 4 field"):
        load_dataset(dataset=str(path), behavior_column=5)
    with pytest.raises(DataError, match="train.txt, line 1: data.behavior_column='kind' names a "
                                        "header column, but this file has no header"):
        load_dataset(dataset=str(path), behavior_column="kind")
    # a test row of another behaviour
    rows = (path / "test.txt").read_text().splitlines()
    rows[2] = rows[2].replace(" buy ", " view ")
    (path / "test.txt").write_text("\n".join(rows) + "\n")
    (path / "train.txt").write_text((path / "train.txt").read_text().replace(" clik ", " view "))
    with pytest.raises(DataError, match=r"test.txt, line 3: behaviour 'view' \(field 3\): the "
                                        "test file holds the target behaviour's held-out rows"):
        load_dataset(dataset=str(path), behavior_column=3)
    # a csv header without the named column; a value-less single behaviour; the CLI's exit code
    csv = _column_layout(planted_mb_dir, tmp_path / "csv", sep=",",
                         header="user,item,behavior,timestamp")
    with pytest.raises(DataError, match=r"train.txt, line 1: no behaviour column 'action' "
                                        r"\(data.behavior_column\) in the header; its columns: "
                                        "user, item, behavior, timestamp"):
        load_dataset(dataset=str(csv), behavior_column="action")
    assert main(["data", "describe", str(csv), "--set", "data.behavior_column=action"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "line 1" in err
    with pytest.raises(ConfigError, match="folder .* holds one file per behaviour"):
        load_dataset(dataset=str(planted_mb_dir), behavior_column=3)
    with pytest.raises(ConfigError, match="data.behavior_column is not set"):
        load_dataset(dataset=str(planted_mb_dir), behaviors=["view", "buy"])


def test_describe_prints_counts_per_behaviour_for_a_behaviour_column(planted_mb_dir, tmp_path,
                                                                     capsys):
    path = _column_layout(planted_mb_dir, tmp_path / "col")
    assert main(["data", "describe", str(path), "--set", "data.behavior_column=3"]) == 0
    out = capsys.readouterr().out
    assert "behaviour field 3: view 540, cart 240, buy 240 rows (target buy)" in out
    assert "behaviours: view -> cart -> buy; target buy" in out
    assert "view               540        60        40" in out
    assert "buy                240        60        40   (180 after the validation" in out


def test_behavior_column_on_real_data_matches_the_per_behaviour_files(data_dir, tmp_path):
    """beibei-mini-mb's three behaviour files (adjacency lists) as one file with a behaviour
    column: the same per-behaviour counts, id maps and split."""
    src = require_dataset(data_dir, "beibei-mini-mb")
    ref = load_dataset(dataset="beibei-mini-mb", data_dir=str(data_dir))
    rows, test = [], []
    for b, f in (("view", "pv_mini.txt"), ("cart", "cart_mini.txt"), ("buy", "train_mini.txt")):
        for line in (src / f).read_text().splitlines():
            u, *items = line.split()
            rows += [f"{u}\t{i}\t{b}" for i in items]
    for line in (src / "test_mini.txt").read_text().splitlines():
        u, *items = line.split()
        test += [f"{u}\t{i}" for i in items]
    (tmp_path / "mb").mkdir()
    (tmp_path / "mb" / "train.tsv").write_text("\n".join(rows) + "\n")
    (tmp_path / "mb" / "test.tsv").write_text("\n".join(test) + "\n")
    data = load_dataset(dataset=str(tmp_path / "mb"), behavior_column=3)
    _same_data(ref, data)
    assert {b: data.report["behaviors"]["train"][b]["interactions"]
            for b in ("view", "cart", "buy")} == {"view": 111988, "cart": 29315, "buy": 12629}
