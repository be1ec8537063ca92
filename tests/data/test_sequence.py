import numpy as np
import pytest

from conftest import require_dataset
from ssrec.data import PAD, load_dataset, windows
from ssrec.data.sequence import Ragged


def _write(path, text):
    path.write_text(text)
    return path


def test_windows_keep_the_most_recent_items_right_padded():
    seqs = Ragged(np.array([0, 6, 8, 8]), np.array([10, 11, 12, 13, 14, 15, 20, 21]))
    tok, n = windows(seqs, np.array([0, 1, 2]), max_len=4)
    # row 0 has 6 items: the last 4 (12..15) are kept, as tokens item + 1
    assert tok.tolist() == [[13, 14, 15, 16], [21, 22, PAD, PAD], [PAD, PAD, PAD, PAD]]
    assert n.tolist() == [4, 2, 0]
    # ends: the window stops before position 5 of row 0 (items 11..14)
    tok, n = windows(seqs, np.array([0]), max_len=4, ends=np.array([5]))
    assert tok.tolist() == [[12, 13, 14, 15]] and n.tolist() == [4]
    # trimmed to the longest window, or kept at max_len
    assert windows(seqs, np.array([1]), max_len=4)[0].shape == (1, 2)
    assert windows(seqs, np.array([1]), max_len=4, trim=False)[0].shape == (1, 4)
    with pytest.raises(ValueError):
        windows(seqs, np.array([1]), max_len=4, ends=np.array([3]))


def test_truncation_keeps_the_last_max_len_items_of_a_loaded_history(tmp_path):
    rows = [f"u1 i{k} 1 {100 + k}" for k in range(12)] + ["u2 i0 1 5", "u2 i1 1 6", "u2 i2 1 7"]
    rows += [f"u3 i{k} 1 {20 - k}" for k in range(12)]  # u3 trains on u1's last items
    data = load_dataset(dataset=str(_write(tmp_path / "a.txt", "\n".join(rows))), split="loo")
    u = data.users.index("u1")
    hist = data.sequences.history("test")
    tok, n = windows(hist, np.array([u]), max_len=5)
    raw = data.items.to_raw(tok[0, :n[0]] - 1).tolist()
    # test = i11, valid = i10; the test input is the 5 latest of i0..i10
    assert raw == ["i6", "i7", "i8", "i9", "i10"]


def test_raw_item_zero_is_a_real_item_never_padding(tmp_path):
    text = ("a 0 1 1\na 5 1 2\na 7 1 3\na 9 1 4\nb 5 1 1\nb 0 1 2\nb 7 1 3\n"
            "c 9 1 1\nc 7 1 2\nc 0 1 3\nc 5 1 4\n")
    data = load_dataset(dataset=str(_write(tmp_path / "z.txt", text)), split="loo")
    zero = data.items.index("0")
    a = data.users.index("a")
    train = data.sequences.train.row(a)
    assert data.items.to_raw(train).tolist() == ["0", "5"]
    tok, n = windows(data.sequences.history("test"), np.array([a]), max_len=10)
    assert n[0] == 3 and tok[0, 0] == zero + 1 != PAD
    assert data.items.to_raw(tok[0, :3] - 1).tolist() == ["0", "5", "7"]


def test_history_is_ordered_by_time_with_ties_in_file_order(tmp_path):
    # user x: times 5, 1, 5, 3 -> order i1 (1), i3 (3), i0 (5), i2 (5, later in the file)
    text = ("x i0 1 5\nx i1 1 1\nx i2 1 5\nx i3 1 3\nx i4 1 9\nx i5 1 8\ny i0 1 1\ny i1 1 2\n"
            "z i4 1 1\nz i5 1 2\nz i0 1 3\nz i1 1 4\n")
    data = load_dataset(dataset=str(_write(tmp_path / "t.txt", text)), split="loo")
    x = data.users.index("x")
    # test = i4 (t 9), valid = i5 (t 8)
    assert data.items.to_raw(data.test_csr[x].indices).tolist() == ["i4"]
    assert data.items.to_raw(data.valid_csr[x].indices).tolist() == ["i5"]
    seqs = data.sequences
    assert data.items.to_raw(seqs.train.row(x)).tolist() == ["i1", "i3", "i0", "i2"]
    assert data.items.to_raw(seqs.history("valid").row(x)).tolist() == ["i1", "i3", "i0", "i2"]
    assert data.items.to_raw(seqs.history("test").row(x)).tolist() == [
        "i1", "i3", "i0", "i2", "i5"]


def test_test_input_never_contains_the_target_or_anything_after_it(tmp_path):
    # a given split whose training file holds items later than the test item: they must not be
    # read when predicting the test item
    (tmp_path / "d").mkdir()
    _write(tmp_path / "d" / "train.txt", "u a 1 1\nu b 1 2\nu c 1 9\nv a 1 1\nv c 1 2\nv d 1 3\n"
                                        "w b 1 1\nw d 1 2\n")
    _write(tmp_path / "d" / "test.txt", "u d 1 5\nv b 1 4\n")
    data = load_dataset(dataset=str(tmp_path / "d"), valid_ratio=0.0)
    hist = data.sequences.history("test")
    for user, target in (("u", "d"), ("v", "b")):
        u = data.users.index(user)
        t_target = {"u": 5, "v": 4}[user]
        got = data.items.to_raw(hist.row(u)).tolist()
        assert target not in got
        train_times = {"u": {"a": 1, "b": 2, "c": 9}, "v": {"a": 1, "c": 2, "d": 3}}[user]
        assert got == [i for i, t in sorted(train_times.items(), key=lambda x: x[1])
                       if t < t_target]
    # leave-one-out on real-looking data: the input is exactly the earlier history
    rows = [f"p i{k} 1 {k}" for k in range(6)] + ["q i5 1 1", "q i4 1 2", "q i0 1 3", "q i1 1 4"]
    d2 = load_dataset(dataset=str(_write(tmp_path / "p.txt", "\n".join(rows))), split="loo")
    p = d2.users.index("p")
    assert d2.items.to_raw(d2.sequences.history("test").row(p)).tolist() == [
        "i0", "i1", "i2", "i3", "i4"]
    assert d2.items.to_raw(d2.sequences.history("valid").row(p)).tolist() == [
        "i0", "i1", "i2", "i3"]


def test_valid_method_last_holds_out_each_users_latest_training_item(tmp_path):
    (tmp_path / "s").mkdir()
    _write(tmp_path / "s" / "train.txt", "1:3 4 5 6\n2:4 3\n3:5\n4:6 7 5\n")
    _write(tmp_path / "s" / "test.txt", "1:7\n2:5\n3:3\n4:3\n")
    data = load_dataset(dataset=str(tmp_path / "s"), valid_method="last")
    assert data.report["split"]["validation"]["method"] == "last_from_train"
    raw = {u: data.items.to_raw(data.valid_csr[data.users.index(u)].indices).tolist()
           for u in ("1", "2", "3")}
    # the last item of each training line; user 3 has one training item and keeps it
    assert raw == {"1": ["6"], "2": ["3"], "3": []}
    one = data.users.index("1")
    assert data.items.to_raw(data.sequences.train.row(one)).tolist() == ["3", "4", "5"]
    assert data.items.to_raw(data.sequences.history("test").row(one)).tolist() == [
        "3", "4", "5", "6"]


@pytest.mark.data
def test_amazon_beauty_leave_one_out_validation(data_dir):
    require_dataset(data_dir, "amazon-beauty")
    data = load_dataset(dataset="amazon-beauty", data_dir=str(data_dir), valid_method="last")
    # user "1": train line 1:1 2 3 4, test 1:5 -> valid 4, test input 1 2 3 4
    u = data.users.index("1")
    assert data.items.to_raw(data.valid_csr[u].indices).tolist() == ["4"]
    assert data.items.to_raw(data.sequences.history("test").row(u)).tolist() == [
        "1", "2", "3", "4"]
    assert data.report["split"]["validation"]["carved_from_train"] == 22363


def _short_and_cold(tmp_path):
    """u1 a b c a b, u2 a c d b (d only as u2's validation item), u3 b c e (e only as a test
    target), u4 c a (2 events: no validation target), u5 a (1 event: no target at all)."""
    rows = {"u1": "abcab", "u2": "acdb", "u3": "bce", "u4": "ca", "u5": "a"}
    lines = [f"{u}\t{it}\t1\t{t}" for u, s in rows.items() for t, it in enumerate(s)]
    return _write(tmp_path / "seq.txt", "\n".join(lines) + "\n")


def test_short_histories_and_cold_validation_items_are_counted(tmp_path):
    path = _short_and_cold(tmp_path)
    d = load_dataset(dataset=str(path), split="loo", dedup=False)  # cold="drop"
    # test: u5 has one event (no pair), u3's target e is cold; valid: u4 and u5 too short,
    # u2's validation item d is cold
    assert d.report["users_without_target"] == {"test": 2, "valid": 3}
    assert d.report["users_without_target_reason"] == {
        "test": {"no_target_in_split": 1, "target_dropped_as_cold": 1},
        "valid": {"no_target_in_split": 2, "target_dropped_as_cold": 1}}
    # the cold validation item d also leaves u2's test-time input, and the report says so
    assert d.report["cold"]["valid"]["test_input"] == {"interactions": 1, "users": 1}
    assert any("test-time input" in n["message"] for n in d.report["notes"])
    u2 = d.users.index("u2")
    hist = d.sequences.history("test")
    assert [str(x) for x in d.items.to_raw(hist.row(u2))] == ["a", "c"]


def test_cold_keep_gives_sequential_data_every_input_item(tmp_path):
    import torch

    from ssrec.models import SASRec
    from ssrec.sampling import make_sampler

    path = _short_and_cold(tmp_path)
    d = load_dataset(dataset=str(path), split="loo", dedup=False, cold="keep")
    assert d.n_items == 5  # a..e: d and e have an id (and an untrained embedding)
    assert d.report["users_without_target"] == {"test": 1, "valid": 2}  # only the short ones
    assert "test_input" not in d.report["cold"]["valid"]
    u2 = d.users.index("u2")
    assert [str(x) for x in d.items.to_raw(d.sequences.history("test").row(u2))] == \
        ["a", "c", "d"]
    # a sequential model trains on it and reads d at test time
    torch.manual_seed(0)
    m = SASRec.build(d)
    m.generator = torch.Generator().manual_seed(0)
    batch = next(iter(make_sampler(m.batch_kind, d, 8, seed=0, **m.sampler_options()).epoch()))
    m.loss(batch).total.backward()
    m.eval()
    m.on_eval_start("test")
    seq, lengths = m.eval_input(torch.tensor([u2]))
    assert lengths.tolist() == [3] and seq[0, 2].item() == d.items.index("d") + 1
    with torch.no_grad():
        assert m.score(torch.tensor([u2])).shape == (1, 5)
