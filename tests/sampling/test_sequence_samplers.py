import numpy as np
import pytest

from ssrec.data import PAD, mask_token
from ssrec.sampling import ClozeBatch, SameTargetBatch, SeqBatch, make_sampler


def _rows(batch):
    """Per row: (user, input items, next items) as item indices."""
    out = []
    for u, s, p, n in zip(batch.users.tolist(), batch.seq.tolist(), batch.pos.tolist(),
                          batch.lengths.tolist()):
        out.append((u, [t - 1 for t in s[:n]], [t - 1 for t in p[:n]]))
        assert s[n:] == [PAD] * (len(s) - n) and p[n:] == [PAD] * (len(p) - n)
    return out


@pytest.mark.parametrize("bucket_pool", [1, 4])
def test_sequence_sampler_visits_every_user_once_with_shifted_targets(planted_seq, bucket_pool):
    data = planted_seq
    s = make_sampler("sequence", data, 8, seed=0, max_len=5, n_negatives=2,
                     bucket_pool=bucket_pool)
    seen = []
    train = data.train_csr
    for batch in s.epoch():
        assert isinstance(batch, SeqBatch)
        for u, inp, nxt in _rows(batch):
            full = data.sequences.train.row(u).tolist()
            # the input is the latest max_len items before the last one; pos = input shifted by 1
            assert inp == full[:-1][-5:] and nxt == full[1:][-5:]
            seen.append(u)
        real = batch.seq != PAD
        neg = batch.neg[real] - 1  # [M, 2]
        users = batch.users.unsqueeze(1).expand_as(batch.seq)[real]
        rows = np.array(users.repeat_interleave(2).tolist())
        assert not train[rows, np.array(neg.reshape(-1).tolist())].any()
        assert (batch.neg[~real] == PAD).all()
        assert batch.target.tolist() == [p[n - 1] for p, n in zip(batch.pos.tolist(),
                                                                   batch.lengths.tolist())]
    assert sorted(seen) == list(range(data.n_users)) and len(s) == -(-data.n_users // 8)


def test_same_target_partner_has_the_same_next_item_and_is_another_sequence(planted_seq):
    data = planted_seq
    s = make_sampler("sequence", data, 16, seed=3, max_len=50, n_negatives=0,
                     same_target=True)
    seqs = data.sequences.train
    n_other = 0
    for batch in s.epoch():
        assert isinstance(batch, SameTargetBatch) and batch.neg.shape[-1] == 0
        for b in range(len(batch)):
            ln = int(batch.same_lengths[b])
            partner = (batch.same_seq[b, :ln] - 1).tolist()
            target = int(batch.target[b]) - 1
            assert ln >= 1
            # the partner is a prefix of some training sequence followed by the target item
            found = False
            for u in range(data.n_users):
                row = seqs.row(u).tolist()
                for p in range(1, len(row)):
                    if row[p] == target and row[:p][-50:] == partner:
                        found = True
            assert found
            own = (batch.seq[b, :int(batch.lengths[b])] - 1).tolist()
            n_other += partner != own
    assert n_other > 0.8 * data.n_users  # the planted data has many same-target prefixes


def test_cloze_sampler_masks_and_labels(planted_seq):
    data = planted_seq
    tok = mask_token(data.n_items)
    s = make_sampler("cloze", data, 16, seed=0, max_len=6, mask_prob=0.3, last_prob=0.25)
    n_last_only, n_masked, n_real = 0, 0, 0
    for batch in s.epoch():
        assert isinstance(batch, ClozeBatch)
        for u, seq, lab, n in zip(batch.users.tolist(), batch.seq.tolist(),
                                  batch.labels.tolist(), batch.lengths.tolist()):
            orig = [i + 1 for i in data.sequences.train.row(u).tolist()[-6:]]
            assert n == len(orig)
            masked = [i for i in range(n) if seq[i] == tok]
            assert masked, "at least one masked item per sequence"
            assert [lab[i] for i in masked] == [orig[i] for i in masked]
            assert all(lab[i] == PAD for i in range(len(lab)) if i not in masked)
            assert [seq[i] for i in range(n) if i not in masked] == \
                [orig[i] for i in range(n) if i not in masked]
            n_last_only += masked == [n - 1]
            n_masked += len(masked)
            n_real += n
    # 75% of rows mask ~30% of their items, 25% mask only the last one
    assert 0.15 < n_masked / n_real < 0.4
    assert n_last_only >= 5


def test_samplers_reproduce_with_the_same_seed(planted_seq):
    for kind, opts in (("sequence", {"same_target": True, "bucket_pool": 3}),
                       ("cloze", {"mask_prob": 0.4})):
        a = [b.seq for b in make_sampler(kind, planted_seq, 8, seed=5, **opts).epoch()]
        b = [b.seq for b in make_sampler(kind, planted_seq, 8, seed=5, **opts).epoch()]
        c = [b.seq for b in make_sampler(kind, planted_seq, 8, seed=6, **opts).epoch()]
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
        assert not all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, c))


def test_bucketing_reduces_padding(planted_seq):
    def tokens(pool):
        s = make_sampler("sequence", planted_seq, 4, seed=0, bucket_pool=pool)
        return sum(b.seq.numel() for b in s.epoch())

    assert tokens(15) < tokens(1)
