"""Model-specific checks of the graph SSL models (the shared contract is in test_conformance)."""

from __future__ import annotations

import logging

import pytest
import torch

from ssrec.data.graph import normalized_adjacency, normalized_interactions
from ssrec.errors import ConfigError
from ssrec.models import MODELS, TrainContext
from ssrec.sampling import make_sampler


def build(name, data, **cfg):
    torch.manual_seed(0)
    cls = MODELS.get(name)
    return cls.build(data, cls.Config(**cfg))


def ctx(data, epoch=1, seed=0):
    return TrainContext(epoch=epoch, data=data, device=torch.device("cpu"),
                        generator=torch.Generator().manual_seed(seed))


def first_batch(model, data, size=64):
    sampler = make_sampler(model.batch_kind, data, size, seed=0, **model.sampler_options())
    return next(iter(sampler.epoch()))


@pytest.mark.parametrize("aug", ["edge", "node", "walk"])
def test_sgl_views_are_renormalised_subgraphs_redrawn_every_epoch(planted, aug):
    model = build("SGL", planted, aug=aug, drop_rate=0.3)
    c = ctx(planted)
    model.on_epoch_start(c)
    v1, v2 = model._views
    graphs = v1 if aug == "walk" else [v1]
    assert len(graphs) == (model.cfg.n_layers if aug == "walk" else 1)
    full = planted.norm_adj.to_dense()
    for g in graphs:
        d = g.to_dense()
        kept = (d[: planted.n_users, planted.n_users:] > 0).nonzero()
        # a view is exactly the normalised adjacency of its kept edges, a strict subset
        ref = normalized_adjacency(kept[:, 0], kept[:, 1], planted.n_users, planted.n_items)
        torch.testing.assert_close(d, ref.to_dense())
        assert 0 < (d > 0).sum() < (full > 0).sum()
        assert ((d > 0) <= (full > 0)).all()
    assert not torch.equal(_dense(v1), _dense(v2))  # the two views differ
    model.on_epoch_start(c)  # next epoch: new draws from the running generator
    assert not torch.equal(_dense(model._views[0]), _dense(v1))
    again = build("SGL", planted, aug=aug, drop_rate=0.3)
    again.on_epoch_start(ctx(planted))  # same seed: same views
    assert torch.equal(_dense(again._views[0]), _dense(v1))


def _dense(view):
    return torch.stack([g.to_dense() for g in view]) if isinstance(view, list) else view.to_dense()


def test_sgl_without_dropout_has_identical_views_and_a_known_contrastive_loss(planted):
    from ssrec.losses import info_nce_candidates

    model = build("SGL", planted, drop_rate=0.0)
    model.on_epoch_start(ctx(planted))
    batch = first_batch(model, planted)
    out = model.loss(batch)
    users, items, _ = model.propagate()
    uid, iid = torch.unique(batch.users), torch.unique(batch.pos)
    expected = (info_nce_candidates(users[uid], users, uid, 0.2)
                + info_nce_candidates(items[iid], items, iid, 0.2))
    torch.testing.assert_close(out.parts["cl"], 0.1 * expected)


def test_ncl_caps_clusters_with_a_warning_and_clusters_after_warmup(planted, caplog):
    with caplog.at_level(logging.WARNING):
        model = build("NCL", planted)  # default 1000 clusters > 60 users / 40 items
    assert "n_clusters=1000 exceeds" in caplog.text
    assert (model.k_users, model.k_items) == (planted.n_users, planted.n_items)
    model = build("NCL", planted, n_clusters=4, warmup_epochs=2)
    batch = first_batch(model, planted)
    model.on_epoch_start(ctx(planted, epoch=2))
    assert model._protos is None
    assert model.loss(batch).parts["proto"].item() == 0.0
    model.on_epoch_start(ctx(planted, epoch=3))
    cu, au, ci, ai = model._protos
    assert cu.shape == (4, 64) and ci.shape == (4, 64)
    assert au.shape == (planted.n_users,) and ai.shape == (planted.n_items,)
    torch.testing.assert_close(cu.norm(dim=1), torch.ones(4))
    out = model.loss(batch)
    assert out.parts["proto"].item() > 0 and torch.isfinite(out.total)
    with pytest.raises(ValueError, match="hyper_layers"):
        MODELS.get("NCL").Config(n_layers=3, hyper_layers=2)


def test_ncl_structural_loss_contrasts_layer_two_with_layer_zero(planted):
    from ssrec.losses import info_nce_candidates

    model = build("NCL", planted, n_clusters=4)
    batch = first_batch(model, planted)
    out = model.loss(batch)
    ego = model.ego().detach()
    adj = planted.norm_adj.to_dense()
    two = adj @ adj @ ego
    nu = planted.n_users
    uid, iid = torch.unique(batch.users), torch.unique(batch.pos)
    expected = (info_nce_candidates(two[:nu][uid], ego[:nu], uid, 0.1)
                + info_nce_candidates(two[nu:][iid], ego[nu:], iid, 0.1))
    torch.testing.assert_close(out.parts["cl"].detach(), 4.1e-4 * expected, rtol=1e-5, atol=1e-9)


def test_lightgcl_svd_view_matches_a_dense_reference(planted):
    model = build("LightGCL", planted, rank=3)
    nu, ni = planted.n_users, planted.n_items
    r = torch.tensor(normalized_interactions(planted.train.user, planted.train.item, nu,
                                             ni).toarray())
    uu, ss, vvt = torch.linalg.svd(r.double())
    low = (uu[:, :3] * ss[:3]) @ vvt[:3]  # best rank-3 approximation of R̃, dense [U, I]
    ego = model.ego().detach().double()
    adj = planted.norm_adj.to_dense().double()
    layers = [ego]
    for _ in range(2):
        layers.append(adj @ layers[-1])
    e_ref = sum(layers)
    prev = layers[0] + layers[1]  # E^(0) + E^(1) feed layers 1 and 2 of the SVD view
    g_ref = ego + torch.cat([low @ prev[nu:], low.T @ prev[:nu]])
    with torch.no_grad():
        e, g = model._views()
    torch.testing.assert_close(e.double(), e_ref, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(g.double(), g_ref, rtol=1e-4, atol=1e-5)
    with pytest.raises(ConfigError, match="rank"):
        build("LightGCL", planted, rank=planted.n_items)


def test_mixgcf_synthesises_the_hardest_mixed_candidate_per_layer(planted):
    model = build("MixGCF", planted, n_candidates=8)
    batch = first_batch(model, planted)
    assert batch.neg.shape == (64, 8)
    _, _, layers = model.propagate()
    items_l = torch.stack(layers, 1)[planted.n_users:].detach()  # [I, L+1, D]
    u = torch.stack(layers, 1)[: planted.n_users].mean(1).detach()[batch.users]
    p = items_l[batch.pos]
    model.generator = torch.Generator().manual_seed(4)
    got = model.synthesize(u, p, batch.neg, items_l)
    # reference: the official formulation, mixing every candidate first
    alpha = torch.rand(64, 4, 1, generator=torch.Generator().manual_seed(4)).unsqueeze(1)
    mixed = alpha * p.unsqueeze(1) + (1 - alpha) * items_l[batch.neg]  # [B, M, L+1, D]
    scores = (u[:, None, None, :] * mixed).sum(-1)  # [B, M, L+1]
    idx = scores.argmax(1)  # [B, L+1]
    ref = mixed[torch.arange(64)[:, None], idx, torch.arange(4)]
    torch.testing.assert_close(got, ref)


def test_directau_loss_is_alignment_plus_uniformity_and_ignores_negatives(planted):
    from ssrec.losses import alignment, uniformity

    model = build("DirectAU", planted, gamma=2.0)
    batch = first_batch(model, planted)
    out = model.loss(batch)
    u, i = model.user_embedding.weight, model.item_embedding.weight
    expected = alignment(u[batch.users], i[batch.pos]) + 2.0 * (
        uniformity(u[torch.unique(batch.users)]) + uniformity(i[torch.unique(batch.pos)])) / 2
    torch.testing.assert_close(out.total, expected)
    other = type(batch)(batch.users, batch.pos, torch.zeros_like(batch.neg))
    torch.testing.assert_close(model.loss(other).total, out.total)
    lgn = build("DirectAU", planted, n_layers=2)
    users, items = lgn.embeddings()
    assert not torch.equal(users, lgn.user_embedding.weight)  # LightGCN encoder
