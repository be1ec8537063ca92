"""Behaviour of the Sequential family beyond the shared conformance suite."""

import numpy as np
import pytest
import torch

from conftest import require_dataset
from ssrec.config import load_config
from ssrec.data import PAD, windows
from ssrec.models import BERT4Rec, CL4SRec, DuoRec, SASRec
from ssrec.training import run

SEQUENTIAL = [SASRec, CL4SRec, BERT4Rec, DuoRec]


def _model(cls, data, **cfg):
    torch.manual_seed(0)
    m = cls.build(data, cls.Config(**cfg))
    m.eval()
    return m


@pytest.mark.parametrize("cls", SEQUENTIAL)
def test_padding_never_changes_the_states_of_real_positions(cls, planted_seq):
    m = _model(cls, planted_seq)
    seq, lengths = windows(planted_seq.sequences.train, np.arange(10), 50)
    seq, lengths = torch.from_numpy(seq), torch.from_numpy(lengths)
    wide = torch.cat([seq, torch.zeros(10, 7, dtype=seq.dtype)], dim=1)
    with torch.no_grad():
        a, b = m.encode(seq, lengths), m.encode(wide, lengths)
    real = seq != PAD
    torch.testing.assert_close(a[real], b[:, :seq.shape[1]][real], rtol=1e-5, atol=1e-5)


# left-to-right next-item models (SASRec, CL4SRec, DuoRec) vs BERT4Rec's bidirectional cloze
CAUSAL = {SASRec: True, CL4SRec: True, DuoRec: True, BERT4Rec: False}


@pytest.mark.parametrize("cls", SEQUENTIAL)
def test_causal_models_never_read_later_items(cls, planted_seq):
    assert cls.causal is CAUSAL[cls]
    m = _model(cls, planted_seq)
    m.train()  # as in training (dropout off so the two passes are comparable)
    for mod in m.modules():
        if isinstance(mod, torch.nn.Dropout):
            mod.p = 0.0
        if isinstance(mod, torch.nn.MultiheadAttention):
            mod.dropout = 0.0  # attention-weight dropout is a float, not a module
    seq = torch.tensor([[3, 4, 5, 6, 7]])
    other = torch.tensor([[3, 4, 5, 30, 31]])
    lengths = torch.tensor([5])
    with torch.no_grad():
        a, b = m.encode(seq, lengths), m.encode(other, lengths)
    early_same = torch.allclose(a[0, :3], b[0, :3], atol=1e-6)
    if CAUSAL[cls]:
        # recency positions (SASRec) depend on the length only, not on the later items
        assert early_same
    else:
        assert not early_same  # BERT4Rec is bidirectional


def test_scores_use_the_history_of_the_split_being_scored(planted_seq):
    data = planted_seq
    m = _model(SASRec, data)
    users = torch.arange(data.n_users)
    m.on_eval_start("valid")
    seq_v, len_v = m.eval_input(users)
    m.on_eval_start("test")
    seq_t, len_t = m.eval_input(users)
    m.on_eval_end()
    assert (len_t == len_v + 1).all()
    # the test input ends with the validation item, the valid input with the last train item
    valid_item = torch.tensor([int(data.valid_csr[u].indices[0]) for u in range(data.n_users)])
    assert torch.equal(seq_t[users, len_t - 1] - 1, valid_item)
    test_item = torch.tensor([int(data.test_csr[u].indices[0]) for u in range(data.n_users)])
    assert not (seq_t[:, :len_t.max()] - 1 == test_item[:, None]).any()

    bert = _model(BERT4Rec, data)
    bert.on_eval_start("test")
    seq_b, len_b = bert.eval_input(users)
    assert (seq_b[users, len_b - 1] == bert.mask_token).all()
    assert torch.equal(seq_b[users, len_b - 2] - 1, valid_item)


def test_cl4srec_views_keep_shapes_and_lengths(planted_seq):
    m = _model(CL4SRec, planted_seq)
    m.generator = torch.Generator().manual_seed(0)
    seq, lengths = windows(planted_seq.sequences.train, np.arange(20), 50)
    seq, lengths = torch.from_numpy(seq), torch.from_numpy(lengths)
    for op in range(3):
        out, n = m.view(seq, lengths, torch.full((20,), op))
        assert out.shape == seq.shape and n.shape == lengths.shape
        assert (n <= lengths).all() and (n >= 1).all()
        col = torch.arange(seq.shape[1])
        assert (out[col[None, :] >= n[:, None]] == PAD).all()
    out, _ = m.view(seq, lengths, torch.full((20,), 1))
    assert (out == m.mask_token).any()


def test_cl4srec_view_applies_each_rows_operator(planted_seq):
    """Row ``b`` gets operator ``op[b]``: crop = a contiguous run of the row moved to the front;
    mask = the same items with some replaced by the mask token; reorder = a permutation of the
    row's items without mask tokens that differs from the row inside one contiguous run."""
    m = _model(CL4SRec, planted_seq, crop_ratio=0.5, mask_ratio=0.5, reorder_ratio=0.8)
    m.generator = torch.Generator().manual_seed(1)
    seq, lengths = windows(planted_seq.sequences.train, np.arange(30), 50)
    seq, lengths = torch.from_numpy(seq), torch.from_numpy(lengths)
    assert (lengths >= 4).all()
    op = torch.arange(30) % 3
    out, n = m.view(seq, lengths, op)
    for b in range(30):
        row, ln = seq[b, :lengths[b]].tolist(), int(lengths[b])
        got = out[b, :n[b]].tolist()
        if op[b] == 0:
            assert n[b] == max(1, ln // 2)
            assert any(row[s:s + len(got)] == got for s in range(ln - len(got) + 1))
        elif op[b] == 1:
            assert n[b] == ln
            hidden = [i for i, x in enumerate(got) if x == m.mask_token]
            assert len(hidden) == ln // 2
            assert all(got[i] == row[i] for i in range(ln) if i not in hidden)
        else:
            assert n[b] == ln and m.mask_token not in got and sorted(got) == sorted(row)
            diff = [i for i in range(ln) if got[i] != row[i]]
            if diff:  # the changed positions lie in one run of floor(0.8 n) items
                assert diff[-1] - diff[0] < int(0.8 * ln)
    assert (op == 2).any() and any(out[b, :n[b]].tolist() != seq[b, :lengths[b]].tolist()
                                   for b in range(30) if op[b] == 2)


def test_sequential_runs_default_to_leave_one_out_validation_and_open_ranking(tmp_path):
    d = tmp_path / "s"
    d.mkdir()
    (d / "train.txt").write_text("\n".join(
        f"{u}:" + " ".join(str((u + k) % 12) for k in range(6)) for u in range(30)) + "\n")
    (d / "test.txt").write_text("\n".join(f"{u}:{(u + 6) % 12}" for u in range(30)) + "\n")
    cfg = load_config(None, ["model.name=SASRec", f"data.dataset={d}", "train.epochs=2",
                             "train.progress=false", f"output_dir={tmp_path / 'run'}"])
    run(cfg)
    import json

    res = json.loads((tmp_path / "run" / "results.json").read_text())
    proto = res["protocol"]
    assert proto["split"]["validation"]["method"] == "last_from_train"
    assert proto["exclude_seen"] is False and proto["masked_items"]["test"].startswith("none")
    assert proto["sequences"]["max_len"] == 50 and proto["ranking"] == "full"


@pytest.mark.slow
@pytest.mark.data
def test_sasrec_beats_popularity_on_ml100k_leave_one_out(data_dir):
    require_dataset(data_dir, "ml-100k")
    common = ["data.dataset=ml-100k", f"data.data_dir={data_dir}", "data.split=loo",
              "train.progress=false", "train.save_checkpoints=false", "eval.ks=[10]",
              "eval.metrics=[hit,ndcg]", "presets=false", "eval.exclude_seen=false",
              "train.num_threads=1"]
    pop = run(load_config(None, [*common, "model.name=MostPop"]), write=False)
    sas = run(load_config(None, [*common, "model.name=SASRec", "model.dropout=0.2",
                                 "train.epochs=25", "train.batch_size=64",
                                 "train.eval_every=25"]), write=False)
    # leave-one-out, full ranking over 1,678 items, history items allowed for both (MostPop:
    # HR@10 0.050); SASRec reaches ~0.09 after 25 epochs
    assert pop.test["hit@10"] == pytest.approx(0.05, abs=1e-9)
    assert sas.test["hit@10"] > 1.4 * pop.test["hit@10"], (sas.test, pop.test)


def test_a_sequential_model_on_a_file_without_test_split_gets_leave_one_out(tmp_path):
    """``data.split=default`` on one ``user item timestamp`` file means leave-one-out for a
    sequential model (and a ratio split for a graph model); config.yaml records the split."""
    f = tmp_path / "events.txt"
    f.write_text("".join(f"u{u} i{(u + k) % 15} {100 * k + u}\n" for u in range(25)
                         for k in range(8)))
    import json

    import yaml

    for model, split in (("SASRec", "loo"), ("MF", "ratio")):
        out = tmp_path / model
        run(load_config(None, [f"model.name={model}", f"data.dataset={f}", "train.epochs=1",
                               "train.progress=false", f"output_dir={out}"]))
        assert yaml.safe_load((out / "config.yaml").read_text())["data"]["split"] == split
        proto = json.loads((out / "results.json").read_text())["protocol"]
        assert proto["split"]["method"] == split
    assert proto["exclude_seen"] is True  # MF: the general family's default, recorded
