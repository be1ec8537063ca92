"""The behaviour-aware pairwise sampler: positives and negatives drawn per behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from ssrec.errors import ConfigError
from ssrec.sampling import BehaviorPairBatch, make_sampler


def _epoch(data, n_neg=3, batch=50, seed=0):
    sampler = make_sampler("behavior_pairwise", data, batch, seed, n_negatives=n_neg)
    batches = list(sampler.epoch())
    assert all(isinstance(b, BehaviorPairBatch) for b in batches)
    return sampler, batches


def test_negatives_are_never_positives_of_their_own_behaviour(planted_mb):
    mb = planted_mb.behaviors
    _, batches = _epoch(planted_mb)
    for k, b in enumerate(mb.names):
        dense = mb.csr(b).toarray() > 0  # [U, I]
        for batch in batches:
            users = batch.users.numpy()
            has, pos, neg = (batch.beh_has[k].numpy(), batch.beh_pos[k].numpy(),
                             batch.beh_neg[k].numpy())
            assert neg.shape == (users.size, 3)
            assert has.all()  # every planted user has rows in every behaviour
            assert dense[users, pos].all()  # positives of behaviour b
            assert not dense[users[:, None], neg].any()  # never a positive of behaviour b


def test_buy_negatives_may_be_viewed_items_and_view_negatives_never_are(planted_mb):
    mb = planted_mb.behaviors
    view = mb.csr("view").toarray() > 0
    _, batches = _epoch(planted_mb, n_neg=4)
    k_buy, k_view = mb.names.index("buy"), mb.names.index("view")
    buy_neg_viewed = view_neg_viewed = 0
    for batch in batches:
        u = batch.users.numpy()[:, None]
        buy_neg_viewed += int(view[u, batch.beh_neg[k_buy].numpy()].sum())
        view_neg_viewed += int(view[u, batch.beh_neg[k_view].numpy()].sum())
    # a user views 9 of 40 items and has 3 buys in the fit rows: 6 of the 37 items that are
    # not buy positives are viewed, so about 720 · 6/37 ≈ 117 of the epoch's 720 buy negatives
    # (180 triples × 4) are viewed items (binomial sd ≈ 10)
    assert 80 < buy_neg_viewed < 155
    assert view_neg_viewed == 0


def test_target_triples_cover_the_fit_rows_once(planted_mb):
    _, batches = _epoch(planted_mb)
    users = np.concatenate([b.users.numpy() for b in batches])
    pos = np.concatenate([b.pos.numpy() for b in batches])
    got = sorted(zip(users.tolist(), pos.tolist()))
    train = planted_mb.train
    assert got == sorted(zip(train.user.tolist(), train.item.tolist()))
    # validation buys are never drawn as positives of the buy behaviour
    k = planted_mb.behaviors.names.index("buy")
    valid = planted_mb.valid_csr.toarray() > 0
    for b in batches:
        assert not valid[b.users.numpy(), b.beh_pos[k].numpy()].any()


def test_users_without_a_behaviour_are_flagged(tmp_path):
    from conftest import write_planted_mb
    from ssrec.data import load_dataset

    path = write_planted_mb(tmp_path / "mb")
    # user u0 never carts: its cart row is padding
    rows = [r for r in (path / "train_cart.txt").read_text().splitlines()
            if not r.startswith("u0 ")]
    (path / "train_cart.txt").write_text("\n".join(rows) + "\n")
    data = load_dataset(dataset=str(path))
    k = data.behaviors.names.index("cart")
    u0 = data.users.index("u0")
    _, batches = _epoch(data)
    seen = False
    for b in batches:
        at = b.users.numpy() == u0
        if at.any():
            seen = True
            assert not b.beh_has[k].numpy()[at].any() and (b.beh_pos[k].numpy()[at] == 0).all()
    assert seen


def test_same_seed_same_epoch_and_single_behaviour_data_refused(planted_mb, planted):
    _, a = _epoch(planted_mb, seed=3)
    _, b = _epoch(planted_mb, seed=3)
    assert all((x.beh_neg == y.beh_neg).all() and (x.beh_pos == y.beh_pos).all()
               for x, y in zip(a, b))
    with pytest.raises(ConfigError, match="needs multi-behaviour data"):
        make_sampler("behavior_pairwise", planted, 10, 0)
