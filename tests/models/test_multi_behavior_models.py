"""Multi-behaviour layers and models against dense references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ssrec.data.dataset import load_dataset
from ssrec.models import MODELS
from ssrec.models.layers import behavior_messages, cascade_propagate


def _dense_adjs(model):
    return [a.to_dense() for a in model.behavior_adjs()]


def _lightgcn(adj, x, n):
    layers = [x]
    for _ in range(n):
        layers.append(adj @ layers[-1])
    return torch.stack(layers).mean(0)


def test_cascade_propagate_matches_a_dense_chain():
    torch.manual_seed(0)
    adjs = [torch.rand(5, 5) for _ in range(3)]
    adjs = [(a + a.T).to_sparse_csr() for a in adjs]
    ego = torch.randn(5, 4)
    w = [torch.randn(4, 4) for _ in range(2)]
    outs = cascade_propagate(adjs, ego, [1, 2, 3], [lambda x, m=m: x @ m for m in w])
    dense = [a.to_dense() for a in adjs]
    e1 = _lightgcn(dense[0], ego, 1)
    e2 = _lightgcn(dense[1], e1 @ w[0], 2)
    e3 = _lightgcn(dense[2], e2 @ w[1], 3)
    for got, ref in zip(outs, (e1, e2, e3)):
        torch.testing.assert_close(got, ref)
    torch.testing.assert_close(behavior_messages(adjs, ego),
                               torch.stack([a @ ego for a in dense]))
    with pytest.raises(ValueError, match="3 behaviour graphs need 3 layer counts and 2"):
        cascade_propagate(adjs, ego, [1, 2], [lambda x: x] * 2)


def test_mbcgcn_sums_the_cascade_view_cart_buy(planted_mb):
    torch.manual_seed(0)
    model = MODELS.get("MBCGCN").build(planted_mb, {"n_layers": 2, "embedding_dim": 8})
    assert model.cascade == ("view", "cart", "buy")
    nu = planted_mb.n_users
    ego = model.ego().detach()
    a = _dense_adjs(model)

    def tr(x, k):
        return torch.cat([x[:nu] @ model.w_user[k].detach(), x[nu:] @ model.w_item[k].detach()])

    e1 = _lightgcn(a[0], ego, 2)
    e2 = _lightgcn(a[1], tr(e1, 0), 2)
    e3 = _lightgcn(a[2], tr(e2, 1), 2)
    users, items = model.embeddings()
    torch.testing.assert_close(users.detach(), (e1 + e2 + e3)[:nu])
    torch.testing.assert_close(items.detach(), (e1 + e2 + e3)[nu:])
    # the buy graph is the fit rows only (validation buys are not edges)
    fit = torch.from_numpy(planted_mb.train_csr.toarray() > 0)
    assert torch.equal(a[2][:nu, nu:] > 0, fit)


def test_cml_encoder_matches_the_dense_formula(planted_mb):
    torch.manual_seed(0)
    model = MODELS.get("CML").build(planted_mb, {"n_layers": 2, "embedding_dim": 6})
    nu = planted_mb.n_users
    a = _dense_adjs(model)
    h = model.ego().detach()
    shared, per = [], []
    for layer in range(2):
        wu, wi = model.w_user[layer].detach(), model.w_item[layer].detach()

        def lin(x):
            return torch.cat([x[:nu] @ wu, x[nu:] @ wi])

        m = [adj @ h for adj in a]
        h = torch.sigmoid(lin(sum(m) / len(m)))
        shared.append(h)
        per.append(torch.stack([torch.sigmoid(lin(x)) for x in m]))
    hs = torch.cat(shared, -1)
    ref = torch.cat([hs[:nu] @ model.cat_user.detach(), hs[nu:] @ model.cat_item.detach()])
    hp = torch.cat(per, -1)
    ref_k = torch.cat([hp[:, :nu] @ model.cat_user.detach(),
                       hp[:, nu:] @ model.cat_item.detach()], dim=1)
    got, got_k = model.encode()
    torch.testing.assert_close(got.detach(), ref)
    torch.testing.assert_close(got_k.detach(), ref_k)


def test_cml_meta_term_reaches_only_the_meta_network(planted_mb):
    from ssrec.sampling import make_sampler

    torch.manual_seed(0)
    model = MODELS.get("CML").build(planted_mb)
    model.train()
    batch = next(iter(make_sampler("behavior_pairwise", planted_mb, 64, 0).epoch()))
    out = model.loss(batch)
    assert set(out.parts) == {"bpr", "bpr_aux", "cl", "reg", "meta"}
    out.parts["meta"].backward()
    meta = {id(p) for p in model.meta_net.parameters()}
    for p in model.parameters():
        if id(p) in meta:
            assert p.grad is not None and p.grad.abs().sum() > 0
        else:
            assert p.grad is None or p.grad.abs().sum() == 0
    # without meta weighting: no meta part and every behaviour weighs 1
    plain = MODELS.get("CML").build(planted_mb, {"meta": False})
    assert "meta" not in plain.loss(batch).parts


def test_mbgcn_scores_match_the_dense_formula(planted_mb):
    torch.manual_seed(0)
    model = MODELS.get("MBGCN").build(planted_mb, {"n_layers": 2, "embedding_dim": 4,
                                                   "item_weight": 0.3})
    with torch.no_grad():
        model.log_w.copy_(torch.tensor([0.5, -0.2, 0.1]))  # w_t away from 1
    mb = planted_mb.behaviors
    r = [torch.from_numpy(mb.csr(b).toarray()).float() for b in model.cascade]  # [U, I] each
    n = torch.stack([x.sum(1) for x in r], 1)  # [U, K]
    w = model.log_w.detach().exp()
    alpha = n * w / (n * w).sum(1, keepdim=True)

    def mean_rows(m):
        return m / m.sum(1, keepdim=True).clamp(min=1)

    merged = (sum(r) > 0).float()
    p0, q0 = model.user_embedding.weight.detach(), model.item_embedding.weight.detach()
    p, q, ps, qs = p0, q0, [p0], [q0]
    for layer in range(2):
        wl = model.w[layer].detach()
        agg_u = sum(alpha[:, t:t + 1] * (mean_rows(r[t]) @ q) for t in range(3))
        p, q = agg_u @ wl, (merged.T @ p) @ wl  # items: a sum over their users
        ps.append(p)
        qs.append(q)
    y = torch.cat(ps, 1) @ torch.cat(qs, 1).T  # [U, I] user-based part
    for t in range(3):
        co = r[t].T @ r[t]  # [I, I], counted co-interactions, the item itself included
        s = q0
        for layer in range(2):
            s = (mean_rows(co) @ s) @ model.w_item[t][layer].detach()
        y = y + 0.3 * (mean_rows(r[t]) @ s) @ s.T
    model.eval()
    with torch.no_grad():
        got = model.score(torch.arange(planted_mb.n_users))
    torch.testing.assert_close(got, y, rtol=1e-4, atol=1e-5)
    a = model.importance().detach()
    torch.testing.assert_close(a, alpha)


def _write_long_tail_mb(path, n_users=30, n_popular=6, tail_per_user=2, seed=0):
    """Multi-behaviour data shaped like retailrocket-mb: every user buys (carts, views) 3 of
    6 popular items and views ``tail_per_user`` items that nobody else touches; the test buy
    is a 4th popular item."""
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True, exist_ok=True)
    rows = {"view": [], "cart": [], "buy": [], "test": []}
    for u in range(n_users):
        c = rng.permutation(n_popular)
        rows["buy"] += [f"u{u} p{i}" for i in c[:3]]
        rows["cart"] += [f"u{u} p{i}" for i in c[:3]]
        rows["view"] += [f"u{u} p{i}" for i in c[:3]]
        rows["view"] += [f"u{u} t{u}_{k}" for k in range(tail_per_user)]
        rows["test"].append(f"u{u} p{c[3]}")
    for b in ("view", "cart", "buy"):
        (path / f"train_{b}.txt").write_text("\n".join(rows[b]) + "\n")
    (path / "test.txt").write_text("\n".join(rows["test"]) + "\n")
    return path


def test_mbgcn_item_side_sums_users_so_one_user_items_do_not_outweigh_popular_ones(tmp_path):
    """An item's propagated vector is ``W Σ_{u∈N(i)} p_u``: with every user at the same
    vector ``e`` and ``W = I`` it is ``|N(i)| e``. A mean made an item viewed by one user as
    large as an item that 15 users bought (``e`` for both), so on long-tail data (most of
    retailrocket-mb's items have one user) such items filled the top of the lists."""
    data = load_dataset(dataset=str(_write_long_tail_mb(tmp_path / "lt")))
    torch.manual_seed(0)
    model = MODELS.get("MBGCN").build(data, {"n_layers": 1, "embedding_dim": 4})
    e = torch.tensor([0.5, -1.0, 0.25, 2.0])
    with torch.no_grad():
        model.user_embedding.weight.copy_(e.expand(data.n_users, 4))
        model.w[0].copy_(torch.eye(4))
    deg = torch.from_numpy(np.asarray(data.behaviors.merged_csr.sum(0)).ravel()).float()
    popular = torch.tensor([str(n).startswith("p") for n in data.items.raw_ids])
    assert deg[~popular].eq(1).all() and deg[popular].min() >= 5
    with torch.no_grad():
        _, items = model.scoring_vectors()
    q1 = items[:, 4:8]  # layer 1 of p*/q*: [q^0 | q^1 | item-based blocks]
    torch.testing.assert_close(q1, deg.unsqueeze(1) * e)
    assert q1[popular].norm(dim=1).min() >= 5 * q1[~popular].norm(dim=1).max()


def test_behaviorpop_ranks_carted_then_viewed_then_popular(planted_mb):
    data = planted_mb
    mb = data.behaviors
    assert mb.auxiliary == ("view", "cart")
    model = MODELS.get("BehaviorPop").build(data)
    users = torch.arange(data.n_users)
    s = model.score(users)
    view = torch.from_numpy(mb.csr("view").toarray() > 0)
    cart = torch.from_numpy(mb.csr("cart").toarray() > 0)
    pop = torch.as_tensor(data.item_popularity, dtype=torch.float32)
    ref = 1.0 * view + 2.0 * cart + (pop / (pop.max() + 1)).unsqueeze(0)
    torch.testing.assert_close(s, ref)
    # the order the docstring promises, for every user: carted > viewed only > neither
    for u in range(data.n_users):
        c, v = s[u][cart[u]], s[u][view[u] & ~cart[u]]
        rest = s[u][~view[u] & ~cart[u]]
        if c.numel() and v.numel():
            assert c.min() > v.max()
        if v.numel() and rest.numel():
            assert v.min() > rest.max()


def test_smbrec_star_contrast_matches_a_hand_computation():
    from ssrec.models.multi_behavior.smbrec import star_contrastive

    center = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    # leaf 1 agrees with the centre (scaled: the similarity is the cosine), leaf 2 swaps rows
    leaves = torch.tensor([[[2.0, 0.0], [0.0, 3.0]], [[0.0, 1.0], [1.0, 0.0]]])
    got = star_contrastive(center, leaves, (0.5, 1.0))
    # leaf 1: cosines I, τ 0.5: -log(e^2 / (e^2 + e^0)) per row, both directions alike
    # leaf 2: positives have cosine 0, negatives 1, τ 1: -log(1 / (1 + e))
    expect = torch.tensor([math.log(1 + math.exp(-2.0)), math.log(1 + math.e)])
    torch.testing.assert_close(got.detach(), expect)
    # a non-symmetric case: each direction's softmax runs over the other view's rows
    c = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    s = torch.tensor([[1.0, 0.0], [0.5 ** 0.5, 0.5 ** 0.5]])  # cos(c_n, a_m)
    c2a = -(torch.log_softmax(s / 0.2, 1).diagonal()).mean()
    a2c = -(torch.log_softmax(s.T / 0.2, 1).diagonal()).mean()
    torch.testing.assert_close(star_contrastive(c, a.unsqueeze(0), (0.2,)),
                               ((c2a + a2c) / 2).reshape(1))
    # only centre-leaf pairs: leaves that disagree with each other cost nothing more
    assert torch.allclose(star_contrastive(center, leaves[:1], (0.5,)), got[:1])
    with pytest.raises(ValueError, match="2 leaves but 1 temperatures"):
        star_contrastive(center, leaves, (0.5,))


def test_smbrec_matches_the_dense_formula(planted_mb):
    from ssrec.models.multi_behavior.smbrec import star_contrastive
    from ssrec.sampling import make_sampler

    torch.manual_seed(0)
    model = MODELS.get("SMBRec").build(planted_mb, {"n_layers": 2, "embedding_dim": 6,
                                                    "user_temperature": (0.7, 0.3),
                                                    "aux_weight": 0.5})
    with torch.no_grad():
        model.behavior_weight.copy_(torch.tensor([1.5, -0.5, 2.0]))
    assert model.cascade == ("view", "cart", "buy")
    nu = planted_mb.n_users
    ego = model.ego().detach()
    per = torch.stack([_lightgcn(a, ego, 2) for a in _dense_adjs(model)])  # [K, N, D]
    mb = planted_mb.behaviors
    n = torch.stack([torch.from_numpy(mb.csr(b).toarray()).float().sum(1)
                     for b in model.cascade], 1)  # [U, K]: buy without validation rows
    alpha = torch.softmax(n / n.sum(1, keepdim=True) * torch.tensor([1.5, -0.5, 2.0]), 1)
    users = torch.einsum("uk,kud->ud", alpha, per[:, :nu]) @ model.w_user.detach()
    items = torch.cat([per[k, nu:] for k in range(3)], 1) @ model.w_item.detach()
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model.score(torch.arange(nu)), users @ items.T)
        torch.testing.assert_close(model.importance(), alpha)
    # the loss: target BPR on e_u · e_i, auxiliary BPR on each behaviour's own graph, and the
    # star contrast of the target against view and cart only, for users and positive items
    model.train()
    batch = next(iter(make_sampler("behavior_pairwise", planted_mb, 64, 0).epoch()))
    with torch.no_grad():
        parts = model.loss(batch).parts
    u = users[batch.users]
    pos, neg = (u * items[batch.pos]).sum(-1), (u[:, None] * items[batch.neg]).sum(-1)
    torch.testing.assert_close(parts["bpr"], torch.nn.functional.softplus(neg - pos[:, None])
                               .mean())
    aux = 0.0
    for b in ("view", "cart"):
        k, r = model.cascade.index(b), model.behavior_names.index(b)
        has = batch.beh_has[r]
        ub = per[k, batch.users[has]]
        p = (ub * per[k, nu + batch.beh_pos[r][has]]).sum(-1)
        q = (ub[:, None] * per[k, nu + batch.beh_neg[r][has]]).sum(-1)
        aux = aux + torch.nn.functional.softplus(q - p[:, None]).mean()
    torch.testing.assert_close(parts["bpr_aux"], 0.5 * aux)
    uid, iid = batch.distinct_users(), batch.distinct_pos() + nu
    cl = (star_contrastive(per[2, uid], per[:2, uid], (0.7, 0.3)).sum()
          + star_contrastive(per[2, iid], per[:2, iid], (0.2, 0.2)).sum())
    torch.testing.assert_close(parts["cl"], 0.2 * cl)
