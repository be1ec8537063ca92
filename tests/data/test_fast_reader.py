"""The fast paths of loading (issue 18 part 3): the vectorised reader of integer-id files, the
sort-based set operations and the direct CSR adjacency give what the general code gives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ssrec.data.io as io
from ssrec.data import load_dataset
from ssrec.data.graph import normalized_adjacency
from ssrec.data.io import FileFormat, read_interactions
from ssrec.utils import arrays

FAST = {
    "pairs_tab": b"1\t10\n2\t20\n2\t10\n30\t7\n",
    "pairs_comma_no_final_newline": b"1,10\n2,20\n3,0",
    "pairs_space_crlf": b"1 10\r\n2 20\r\n0 0\r\n",
    "adjacency": b"0 1 2 3\n1 4\n2\n3 1 9 8 7 6 5\n",
    "adjacency_crlf": b"0 1 2 3 4 5\r\n1 4\r\n2 7 8 9 10 11\r\n",
}
GENERAL = {  # the fast reader declines these; the general reader handles or reports them
    "leading_zero": b"007\t1\n7\t1\n",
    "blank_line": b"1\t2\n\n3\t4\n",
    "trailing_space": b"1\t2 \n3\t4\n",
    "bom": "\ufeff1\t2\n3\t4\n".encode(),
    "rating_column": b"1\t2\t5\n3\t4\t3\n",
    "string_ids": b"u1\ti1\nu2\ti2\n",
    "double_space": b"1  2\n3 4\n",
    "negative": b"-1\t2\n3\t4\n",
    "header": b"user\titem\n1\t2\n",
    "adjacency_tab_sep_auto": b"0\t1\t2\t3\n1\t4\n2\t5\t6\n",
    "user_colon": b"0:1 2 3\n1:4\n",
}


def _same(fast, general):
    assert fast.user.astype(str).tolist() == general.user.tolist()
    assert fast.item.astype(str).tolist() == general.item.tolist()
    assert fast.line.tolist() == general.line.tolist()
    assert fast.layout == general.layout
    assert fast.lines_without_items == general.lines_without_items
    assert (fast.rating is None) == (general.rating is None)


@pytest.mark.parametrize("name", sorted(FAST))
@pytest.mark.parametrize("kind", ["auto", "given"])
def test_fast_reader_gives_the_general_readers_rows(tmp_path, name, kind):
    p = tmp_path / f"{name}.txt"
    p.write_bytes(FAST[name])
    fmt = FileFormat() if kind == "auto" else FileFormat(
        kind="adjacency" if name.startswith("adjacency") else "pairs")
    fast = read_interactions(p, fmt, numeric_ids=True)
    assert fast.user.dtype == np.int64 and fast.item.dtype == np.int64
    _same(fast, read_interactions(p, fmt))


@pytest.mark.parametrize("name", sorted(GENERAL))
def test_fast_reader_leaves_other_files_to_the_general_reader(tmp_path, name):
    p = tmp_path / f"{name}.txt"
    p.write_bytes(GENERAL[name])
    assert io._read_integer_rows(p, FileFormat()) is None
    try:
        general = read_interactions(p)
    except Exception as exc:  # the same error either way
        with pytest.raises(type(exc)):
            read_interactions(p, numeric_ids=True)
        return
    got = read_interactions(p, numeric_ids=True)
    assert got.user.dtype.kind == "U"
    _same(got, general)


def test_fast_reader_across_chunks(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    u, i = rng.integers(0, 10**6, 5000), rng.integers(0, 10**12, 5000)
    p = tmp_path / "big.txt"
    p.write_text("".join(f"{a}\t{b}\n" for a, b in zip(u, i)))
    monkeypatch.setattr(io, "FAST_CHUNK", 1000)  # many chunks, cut mid-line
    got = read_interactions(p, numeric_ids=True)
    np.testing.assert_array_equal(got.user, u)
    np.testing.assert_array_equal(got.item, i)
    np.testing.assert_array_equal(got.line, np.arange(1, 5001))


def _essence(d):
    return (d.users.raw_ids.tolist(), d.items.raw_ids.tolist(),
            [(s.user.tolist(), s.item.tolist(), s.order.tolist())
             for s in (d.train, d.valid, d.test)], d.report)


@pytest.mark.parametrize("options", [{}, {"cold": "keep"}, {"split": "ratio"},
                                     {"valid_ratio": 0.0}])
def test_load_dataset_is_the_same_with_the_fast_reader(tmp_path, monkeypatch, options):
    rng = np.random.default_rng(1)
    folder = tmp_path / "d"
    folder.mkdir()
    # ids out of order and sparse (2, 10, 11, 100, ...): the string order differs from the
    # numeric one; a repeated pair and test pairs also in training
    for name, n in (("train", 400), ("test", 120)):
        u = rng.choice([2, 10, 11, 100, 101, 9, 95, 1000], n)
        i = rng.choice(np.arange(0, 300, 3), n)
        (folder / f"{name}.txt").write_text("".join(f"{a}\t{b}\n" for a, b in zip(u, i)))
    fast = load_dataset(dataset=str(folder), **options)
    monkeypatch.setattr(io, "_read_integer_rows", lambda path, fmt: None)
    general = load_dataset(dataset=str(folder), **options)
    assert _essence(fast) == _essence(general)


def test_set_helpers_match_numpy():
    rng = np.random.default_rng(2)
    for hi in (50, 10**12):
        x, v = rng.integers(0, hi, 3000), rng.integers(0, hi, 1000)
        np.testing.assert_array_equal(arrays.unique(x), np.unique(x))
        vals, codes = arrays.unique_inverse(x)
        ref_vals, ref_codes = np.unique(x, return_inverse=True)
        np.testing.assert_array_equal(vals, ref_vals)
        np.testing.assert_array_equal(codes, ref_codes)
        assert arrays.n_distinct(x) == np.unique(x).size
        np.testing.assert_array_equal(arrays.isin(x, v), np.isin(x, v))
        np.testing.assert_array_equal(arrays.isin(x, np.unique(v), sorted_unique=True),
                                      np.isin(x, v))
    assert arrays.unique(np.array([], dtype=np.int64)).size == 0
    assert not arrays.isin(np.array([1, 2]), np.array([], dtype=np.int64)).any()


def test_csr_adjacency_equals_the_coalesced_one():
    rng = np.random.default_rng(3)
    u, i = rng.integers(0, 30, 400), rng.integers(0, 50, 400)  # repeats, empty rows
    csr = normalized_adjacency(u, i, 35, 55)
    ref = normalized_adjacency(u, i, 35, 55, layout="coo").to_sparse_csr()
    assert csr.crow_indices().dtype == torch.int32
    assert torch.equal(csr.crow_indices().long(), ref.crow_indices())
    assert torch.equal(csr.col_indices().long(), ref.col_indices())
    assert torch.equal(csr.values(), ref.values())
