import numpy as np

from ssrec.data import split as S


def test_ratio_split_counts_and_determinism():
    user = np.repeat(np.arange(4), [10, 1, 2, 5])
    a = S.ratio_split(user, (0.8, 0.1, 0.1), np.random.default_rng(1))
    b = S.ratio_split(user, (0.8, 0.1, 0.1), np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    for u, (n_tr, n_va, n_te) in {0: (8, 1, 1), 1: (1, 0, 0), 2: (2, 0, 0), 3: (3, 1, 1)}.items():
        lab = a[user == u]
        assert (lab == S.TRAIN).sum() == n_tr
        assert (lab == S.VALID).sum() == n_va
        assert (lab == S.TEST).sum() == n_te


def test_leave_one_out_by_time_ties_by_file_order():
    user = np.array([0, 0, 0, 0, 1, 1, 2])
    t = np.array([5.0, 1.0, 5.0, 3.0, 2.0, 1.0, 9.0])
    lab = S.leave_one_out(user, t)
    # user 0 order by time: row1 (1), row3 (3), row0 (5), row2 (5, later in file) -> test row2,
    # valid row0
    assert lab.tolist() == [S.VALID, S.TRAIN, S.TEST, S.TRAIN, S.TEST, S.TRAIN, S.TRAIN]
    lab = S.leave_one_out(np.array([0, 0, 0]), None)
    assert lab.tolist() == [S.TRAIN, S.VALID, S.TEST]


def test_temporal_split():
    t = np.array([3, 1, 2, 4, 5, 6, 7, 8, 9, 10], dtype=float)
    lab = S.temporal_split(t, (0.8, 0.1, 0.1))
    assert lab[t == 10].tolist() == [S.TEST] and lab[t == 9].tolist() == [S.VALID]
    assert (lab == S.TRAIN).sum() == 8


def test_holdout_never_removes_a_user_or_item():
    rng = np.random.default_rng(0)
    user = rng.integers(0, 50, 2000)
    item = rng.integers(0, 300, 2000)
    mask = S.holdout(user, item, 0.3, np.random.default_rng(5))
    assert 0.2 < mask.mean() < 0.35
    assert set(user[~mask]) == set(user)
    assert set(item[~mask]) == set(item)
    np.testing.assert_array_equal(mask, S.holdout(user, item, 0.3, np.random.default_rng(5)))


def test_k_core():
    user = np.array([0, 0, 0, 1, 1, 1, 2])
    item = np.array([0, 1, 2, 0, 1, 2, 0])
    keep = S.k_core(user, item, 2)
    assert keep.tolist() == [True] * 6 + [False]


def test_one_per_user_marks_one_row_of_each_user_with_two_or_more():
    import numpy as np

    from ssrec.data.split import one_per_user

    user = np.array([0, 0, 0, 1, 2, 2, 3, 3, 3, 3])
    seen = set()
    for seed in range(40):
        mask = one_per_user(user, np.random.default_rng(seed))
        # user 1 has a single row and keeps it; every other user gives exactly one
        assert np.bincount(user[mask], minlength=4).tolist() == [1, 0, 1, 1]
        seen.add(tuple(np.flatnonzero(mask)))
    # the held-out row varies with the seed (uniform over the user's rows)
    assert len({s[0] for s in seen}) == 3 and len({s[2] for s in seen}) == 4
