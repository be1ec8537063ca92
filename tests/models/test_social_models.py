"""MHCN's motif matrices and SEPT's views against dense references; the social models'
self-supervised parts; the recipe switching the social graph on; short runs on real data."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from conftest import require_dataset
from ssrec.config import load_config
from ssrec.errors import ConfigError
from ssrec.models import MHCN, MODELS, SEPT, TrainContext
from ssrec.models.social.motifs import channel_matrices, motif_adjacency
from ssrec.models.social.sept import social_views
from ssrec.sampling import make_sampler
from ssrec.training import run
from ssrec.training.run import evaluate_run, load_run

# The seven directed triangles (Benson et al., Science 2016), as edge sets on nodes 0, 1, 2.
TRIANGLES = {
    "M1": {(0, 1), (1, 2), (2, 0)},
    "M2": {(0, 1), (1, 0), (1, 2), (2, 0)},
    "M3": {(0, 1), (1, 0), (1, 2), (2, 1), (2, 0)},
    "M4": {(0, 1), (1, 0), (1, 2), (2, 1), (0, 2), (2, 0)},
    "M5": {(0, 1), (0, 2), (1, 2)},
    "M6": {(0, 1), (0, 2), (1, 2), (2, 1)},
    "M7": {(1, 0), (2, 0), (1, 2), (2, 1)},
}


def classify(edges: set[tuple[int, int]]) -> str | None:
    """Which triangle motif a 3-node directed edge set is (None if it is not a triangle)."""
    for name, motif in TRIANGLES.items():
        for perm in itertools.permutations(range(3)):
            if {(perm[a], perm[b]) for a, b in motif} == edges:
                return name
    return None


def dense_motifs(s: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Count motif instances by enumerating every triple of users and every user pair."""
    n = s.shape[0]
    out = {f"M{k}": np.zeros((n, n)) for k in range(1, 11)}
    for trio in itertools.combinations(range(n), 3):
        local = {(a, b) for a in range(3) for b in range(3)
                 if a != b and s[trio[a], trio[b]]}
        kind = classify(local)
        if kind is not None:
            for a, b in itertools.permutations(trio, 2):
                out[kind][a, b] += 1
    shared = y @ y.T  # common items of every pair (and each user's own count on the diagonal)
    for a in range(n):
        for b in range(n):
            if a != b and s[a, b] and s[b, a]:
                out["M8"][a, b] = shared[a, b]
            elif a != b and (s[a, b] or s[b, a]):
                out["M9"][a, b] = shared[a, b]
            else:
                out["M10"][a, b] = shared[a, b]
    return out


def hand_built() -> tuple[np.ndarray, np.ndarray]:
    """10 users whose links contain every triangle motif at least once, plus 6 items."""
    links = [
        (0, 1), (1, 2), (2, 0),  # M1 cycle
        (2, 3), (3, 2), (3, 4), (4, 2),  # M2 on {2,3,4}
        (4, 5), (5, 4), (5, 6), (6, 5), (6, 4),  # M3 on {4,5,6}
        (5, 7), (7, 5), (6, 7), (7, 6),  # with (5,6) mutual: M4 on {5,6,7}
        (0, 8), (0, 3), (8, 3),  # M5 on {0,8,3}
        (1, 8), (8, 1), (3, 1),  # more overlap: mutual pair 1-8, 3->1
        (1, 9), (8, 9),  # M7: the mutual pair 1-8 points at 9
    ]
    s = np.zeros((10, 10))
    for a, b in links:
        s[a, b] = 1
    y = np.zeros((10, 6))
    for u, i in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (6, 3),
                 (7, 3), (8, 0), (8, 4), (2, 4), (6, 5), (7, 5), (3, 5), (9, 0)]:
        y[u, i] = 1
    return s, y


def test_motif_matrices_equal_dense_enumeration():
    s, y = hand_built()
    ref = dense_motifs(s, y)
    got = motif_adjacency(sp.csr_matrix(s), sp.csr_matrix(y))
    for k in range(1, 11):
        np.testing.assert_array_equal(got[f"M{k}"].toarray(), ref[f"M{k}"], err_msg=f"M{k}")
    # the graph is rich enough for the test to mean something: every motif occurs
    assert all(ref[f"M{k}"].sum() > 0 for k in range(1, 11)), \
        {k: v.sum() for k, v in ref.items()}


def test_motif_matrices_on_random_directed_graphs():
    rng = np.random.default_rng(3)
    for _ in range(3):
        s = (rng.random((12, 12)) < 0.3).astype(float)
        np.fill_diagonal(s, 0)
        y = (rng.random((12, 7)) < 0.3).astype(float)
        ref = dense_motifs(s, y)
        got = motif_adjacency(sp.csr_matrix(s), sp.csr_matrix(y))
        for k in range(1, 11):
            np.testing.assert_array_equal(got[f"M{k}"].toarray(), ref[f"M{k}"])


def test_channel_matrices_are_row_normalised_sums():
    s, y = hand_built()
    ref = dense_motifs(s, y)
    h_s, h_j, h_p = channel_matrices(sp.csr_matrix(s), sp.csr_matrix(y), purchase_threshold=1)

    def rownorm(a):
        d = a.sum(1, keepdims=True)
        return np.divide(a, d, out=np.zeros_like(a), where=d > 0)

    social = sum(ref[f"M{k}"] for k in range(1, 8))
    np.testing.assert_allclose(h_s.toarray(), rownorm(social), rtol=1e-6)
    np.testing.assert_allclose(h_j.toarray(), rownorm(ref["M8"] + ref["M9"]), rtol=1e-6)
    purchase = np.where(ref["M10"] > 1, ref["M10"], 0)
    np.testing.assert_allclose(h_p.toarray(), rownorm(purchase), rtol=1e-6)
    with pytest.raises(ValueError, match="self links"):
        motif_adjacency(sp.identity(3, format="csr"), sp.csr_matrix((3, 2)))


def test_sept_views_equal_dense_reference():
    s, y = hand_built()
    sym = np.maximum(s, s.T)
    friend, sharing = social_views(sp.csr_matrix(sym), sp.csr_matrix(y))

    def symnorm(a):
        d = a.sum(1)
        inv = np.where(d > 0, d ** -0.5, 0)
        return inv[:, None] * a * inv[None, :]

    # common friends of linked pairs; shared items of linked pairs; plus self loops
    n = sym.shape[0]
    common = np.array([[sym[a] @ sym[:, b] for b in range(n)] for a in range(n)])
    np.testing.assert_allclose(friend.toarray(), symnorm(common * sym + np.eye(n)), rtol=1e-6)
    np.testing.assert_allclose(sharing.toarray(), symnorm((y @ y.T) * sym + np.eye(n)),
                               rtol=1e-6)


def test_social_models_need_a_social_graph(planted):
    for cls in (MHCN, SEPT):
        assert cls.needs_social and cls.family == "social"
        with pytest.raises(ConfigError, match="needs a social graph"):
            cls.build(planted)
    assert not any(MODELS.get(n).needs_social for n in ("LightGCN", "SimGCL", "MF"))


def _batch(data):
    return next(iter(make_sampler("pairwise", data, 64, seed=0).epoch()))


def test_mhcn_self_supervised_loss_trains_the_ssl_gates(planted_social):
    torch.manual_seed(0)
    model = MHCN.build(planted_social)
    model.generator = torch.Generator().manual_seed(0)
    out = model.loss(_batch(planted_social))
    assert set(out.parts) == {"bpr", "reg", "cl"} and out.parts["cl"] > 0
    out.parts["cl"].backward()
    assert model.ssl_gate_weight.grad.abs().sum() > 0
    assert model.user_embedding.weight.grad.abs().sum() > 0
    # every channel of the planted graph (friends inside groups) has motif instances
    assert all(n > 0 for n in model.channel_links.values()), model.channel_links
    model.zero_grad()
    no_ssl = MHCN.build(planted_social, {"cl_weight": 0.0})
    assert "cl" not in no_ssl.loss(_batch(planted_social)).parts


def test_sept_tri_training_starts_after_the_warm_up(planted_social):
    torch.manual_seed(0)
    model = SEPT.build(planted_social, {"warmup_epochs": 2})
    gen = torch.Generator().manual_seed(0)
    model.generator = gen
    batch = _batch(planted_social)
    for epoch, active in ((1, False), (2, False), (3, True)):
        model.on_epoch_start(TrainContext(epoch, planted_social, torch.device("cpu"), gen))
        out = model.loss(batch)
        assert (out.parts["cl"].item() > 0) == active, (epoch, out.parts)
    assert model.aug_adj is not None
    kept = model.aug_adj._nnz() / model.adj._nnz()  # edge dropout with rate 0.3
    assert 0.55 < kept < 0.85
    model.zero_grad()
    out.parts["cl"].backward()
    assert model.user_embedding.weight.grad.abs().sum() > 0
    assert model.item_embedding.weight.grad.abs().sum() > 0  # through the perturbed graph


def test_run_switches_the_social_graph_on(planted_social_dir, tmp_path):
    cfg = load_config(None, ["model.name=SEPT", f"data.dataset={planted_social_dir}",
                             "train.epochs=2", "train.progress=false", "model.warmup_epochs=1",
                             f"output_dir={tmp_path / 'run'}"])
    assert not cfg.data.social
    result = run(cfg)
    assert result.epochs_run == 2
    saved = (tmp_path / "run" / "config.yaml").read_text()
    assert "social: true" in saved

    stored = json.loads((tmp_path / "run" / "results.json").read_text())
    assert stored["protocol"]["social"]["links"] > 0
    # a finished run reloads (social graph included) and re-scores to the same numbers
    loaded = load_run(tmp_path / "run")
    assert loaded.data.social is not None
    again = evaluate_run(loaded, ("test",))["test"]
    assert again == pytest.approx(stored["test"], abs=1e-6)


@pytest.mark.slow
def test_social_models_beat_mostpop_on_lastfm(data_dir):
    require_dataset(data_dir, "lastfm")
    base = [f"data.data_dir={data_dir}", "data.dataset=lastfm", "train.progress=false"]
    pop = run(load_config(None, ["model.name=MostPop", *base]), write=False).test["recall@20"]
    for model in ("MHCN", "SEPT"):
        res = run(load_config(None, [f"model.name={model}", *base, "train.epochs=5",
                                     "train.min_epochs=0", "model.warmup_epochs=2"
                                     if model == "SEPT" else "model.n_layers=2"]), write=False)
        assert res.test["recall@20"] > 4 * pop, (model, res.test, pop)
        assert res.test["ndcg@20"] > 0.1
