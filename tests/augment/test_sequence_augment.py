import math

import pytest
import torch

from ssrec.augment.sequence import crop, mask, reorder

MASK = 99


def _batch(seed=0, b=64, width=12):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, width + 1, (b,), generator=g)
    seq = torch.randint(1, 50, (b, width), generator=g)
    seq = torch.where(torch.arange(width)[None, :] < lengths[:, None], seq, 0)
    return seq, lengths


def _gen(seed=1):
    return torch.Generator().manual_seed(seed)


def test_crop_keeps_a_contiguous_run_of_floor_ratio_n_items():
    seq, lengths = _batch()
    out, n = crop(seq, lengths, 0.6, _gen())
    assert out.shape == seq.shape and n.shape == lengths.shape
    for row, orig, ln, k in zip(out.tolist(), seq.tolist(), lengths.tolist(), n.tolist()):
        assert k == max(1, math.floor(0.6 * ln))
        assert row[k:] == [0] * (len(row) - k)  # padding after the new length
        real = orig[:ln]
        run = row[:k]
        assert any(real[s:s + k] == run for s in range(ln - k + 1))  # a contiguous sub-run
    assert crop(seq, lengths, 1.0, _gen()) == (seq, lengths)
    with pytest.raises(ValueError):
        crop(seq, lengths, 0.0)


def test_mask_replaces_exactly_floor_ratio_n_real_items():
    seq, lengths = _batch()
    out, n = mask(seq, lengths, 0.3, MASK, _gen())
    assert out.shape == seq.shape and torch.equal(n, lengths)
    for row, orig, ln in zip(out.tolist(), seq.tolist(), lengths.tolist()):
        masked = [i for i in range(len(row)) if row[i] == MASK]
        assert len(masked) == math.floor(0.3 * ln)
        assert all(i < ln for i in masked)  # only real positions
        assert [r for i, r in enumerate(row) if i not in masked] == \
            [o for i, o in enumerate(orig) if i not in masked]
    assert mask(seq, lengths, 0.0, MASK)[0] is seq
    with pytest.raises(ValueError):
        mask(seq, lengths, 1.0, MASK)


def test_reorder_permutes_one_contiguous_run_and_nothing_else():
    seq, lengths = _batch(width=20)
    out, n = reorder(seq, lengths, 0.6, _gen())
    assert out.shape == seq.shape and torch.equal(n, lengths)
    changed_rows = 0
    for row, orig, ln in zip(out.tolist(), seq.tolist(), lengths.tolist()):
        k = math.floor(0.6 * ln)
        assert row[ln:] == orig[ln:]  # padding untouched
        diff = [i for i in range(ln) if row[i] != orig[i]]
        if diff:
            changed_rows += 1
            assert diff[-1] - diff[0] < k  # inside one window of k positions
        # the multiset of items is kept, so is every position outside some k-window
        assert sorted(row[:ln]) == sorted(orig[:ln])
    assert changed_rows > 20
    assert reorder(seq, lengths, 0.0)[0] is seq


def test_augmentations_are_reproducible_with_a_seeded_generator():
    seq, lengths = _batch()
    for fn in (lambda g: crop(seq, lengths, 0.5, g), lambda g: mask(seq, lengths, 0.5, MASK, g),
               lambda g: reorder(seq, lengths, 0.5, g)):
        a, b, c = fn(_gen(3)), fn(_gen(3)), fn(_gen(4))
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        assert not torch.equal(a[0], c[0])


def test_length_one_sequences_are_unchanged():
    seq = torch.tensor([[7, 0, 0], [5, 6, 0]])
    lengths = torch.tensor([1, 2])
    for out, n in (crop(seq, lengths, 0.6, _gen()), mask(seq, lengths, 0.3, MASK, _gen()),
                   reorder(seq, lengths, 0.4, _gen())):
        assert out[0].tolist() == [7, 0, 0] and n[0] == 1
