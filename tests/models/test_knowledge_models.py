"""Knowledge-graph models: the KG is loaded for them, their encoders against dense
references (KGIN, KGCL, KGRec, MCCLK), KGIN's independence term against the textbook distance
correlation, MCCLK's scores and contrastive loss by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ssrec.config import build_config
from ssrec.errors import ConfigError
from ssrec.models import KGCL, KGIN, MCCLK, KGRec, LightGCN
from ssrec.models.knowledge.kgin import distance_correlation
from ssrec.models.knowledge.kgrec import gumbel_noise
from ssrec.models.layers import knn_graph
from ssrec.training.run import resolve_data_needs


def test_kg_models_need_a_kg_and_the_recipe_loads_it(planted, planted_kg_dir):
    with pytest.raises(ConfigError, match="needs a knowledge graph"):
        KGIN.build(planted)
    cfg = build_config({"model": {"name": "KGCL"}, "data": {"dataset": str(planted_kg_dir)}})
    assert not cfg.data.kg and resolve_data_needs(cfg).data.kg


def _dcor_reference(x: np.ndarray, y: np.ndarray) -> float:
    """Székely, Rizzo & Bakirov (2007): double-centred distance matrices."""
    def centred(v):
        d = np.abs(v[:, None] - v[None, :])
        return d - d.mean(0) - d.mean(1)[:, None] + d.mean()
    a, b = centred(x), centred(y)
    return float(np.sqrt((a * b).mean() / np.sqrt((a * a).mean() * (b * b).mean())))


def test_distance_correlation_matches_reference():
    rng = np.random.default_rng(0)
    x, z = rng.normal(size=30), rng.normal(size=30)
    y = x ** 2 + 0.1 * z
    for a, b in ((x, y), (x, z), (x, 2 * x + 1)):
        got = distance_correlation(torch.tensor(a), torch.tensor(b)).item()
        assert got == pytest.approx(_dcor_reference(a, b), abs=1e-4)
    assert distance_correlation(torch.tensor(x), torch.tensor(2 * x + 1)).item() == \
        pytest.approx(1.0, abs=1e-4)


def test_kgin_one_hop_matches_dense_reference(planted_kg):
    torch.manual_seed(0)
    model = KGIN.build(planted_kg, KGIN.Config(n_layers=1)).double().eval()
    kg = planted_kg.kg.with_inverse()
    n_u, n_i, n_e = planted_kg.n_users, planted_kg.n_items, kg.n_entities
    with torch.no_grad():
        users, ents = model.propagate()
        e0 = torch.cat([model.item_embedding.weight, model.entity_embedding.weight])
        u0 = model.user_embedding.weight
        rel = model.relation_weight
        # entities: mean over the head's triples of e_r ⊙ e_t (Eq. 7), dense loop
        agg = torch.zeros_like(e0)
        for h in range(n_e):
            m = kg.head == h
            if m.any():
                agg[h] = (rel[kg.relation[m]] * e0[kg.tail[m]]).mean(0)
        # users: m_u (mean of the user's items), intents from the relation weights (Eq. 1-4)
        r = torch.tensor(planted_kg.train_csr.toarray(), dtype=torch.float64)
        m_u = (r / r.sum(1, keepdim=True)) @ e0[:n_i]
        intents = torch.softmax(model.intent_attention, -1) @ rel
        beta = torch.softmax(u0 @ model.intent_embedding.T, 1)
        u1 = m_u * (beta @ intents) + m_u
        torch.testing.assert_close(ents, e0 + F.normalize(agg, dim=1))
        torch.testing.assert_close(users, u0 + F.normalize(u1, dim=1))
    assert users.shape == (n_u, 64)


def test_kgcl_item_aggregation_matches_per_item_attention(planted_kg):
    torch.manual_seed(0)
    model = KGCL.build(planted_kg).double().eval()
    kg = planted_kg.kg
    with torch.no_grad():
        got = model.kg_items()
        items = model.item_embedding.weight
        for i in range(planted_kg.n_items):
            m = kg.head == i
            t = torch.as_tensor(kg.tail[m])
            r = torch.as_tensor(kg.relation[m])
            e_t = model.entity_embedding(t)
            logits = (model.attention(torch.cat([items[i].expand_as(e_t), e_t], 1))
                      * model.relation_embedding(r)).sum(1)
            alpha = torch.softmax(F.leaky_relu(logits, 0.2), 0)
            torch.testing.assert_close(got[i], items[i] + alpha @ e_t)


def test_kgcl_views_keep_about_one_minus_p_of_the_interactions(planted_kg):
    torch.manual_seed(0)
    model = KGCL.build(planted_kg, KGCL.Config(ui_drop_rate=0.3))
    kg1, kg2, adj1, adj2 = model._draw_views(torch.Generator().manual_seed(0))
    n_item_triples = int(planted_kg.kg.item_mask().sum())
    assert 0 < kg1[0].numel() < n_item_triples and 0 < kg2[0].numel() < n_item_triples
    n_edges = len(planted_kg.train)
    for adj in (adj1, adj2):
        kept = adj._nnz() / 2 if adj.layout == torch.sparse_coo else adj.values().numel() / 2
        assert 0.5 * n_edges < kept < 0.9 * n_edges


def test_kgrec_one_hop_matches_dense_reference(planted_kg):
    torch.manual_seed(0)
    model = KGRec.build(planted_kg, KGRec.Config(n_layers=1)).double().eval()
    kg = planted_kg.kg.with_inverse()
    n_i, n_e, heads, dk = planted_kg.n_items, kg.n_entities, 2, 32
    with torch.no_grad():
        users, ents = model.embeddings()
        e0 = torch.cat([model.item_embedding.weight, model.entity_embedding.weight])
        rel, wq = model.relation_emb, model.w_q
        agg = torch.zeros_like(e0)
        for h in range(n_e):
            m = kg.head == h
            if not m.any():
                continue
            t, r = torch.as_tensor(kg.tail[m]), torch.as_tensor(kg.relation[m])
            q = (e0[h] @ wq).view(heads, dk)
            k = ((e0[t] @ wq) * rel[r]).view(-1, heads, dk)
            alpha = torch.softmax((k * q).sum(-1) / dk ** 0.5, dim=0)  # [n_h, H]
            v = (e0[t] * rel[r]).view(-1, heads, dk)
            agg[h] = (alpha.unsqueeze(-1) * v).sum(0).reshape(-1)
        r_ui = torch.tensor(planted_kg.train_csr.toarray(), dtype=torch.float64)
        u1 = (r_ui / r_ui.sum(1, keepdim=True)) @ e0[:n_i]
        torch.testing.assert_close(ents[:n_i], (e0 + F.normalize(agg, dim=1))[:n_i])
        torch.testing.assert_close(users, model.user_embedding.weight + F.normalize(u1, dim=1))
        # rationale scores average 1 over each head entity's triples
        s = model.rationale(e0, (torch.as_tensor(kg.head), torch.as_tensor(kg.relation),
                                 torch.as_tensor(kg.tail)))
        for h in (0, 5, n_i):
            torch.testing.assert_close(s[torch.as_tensor(kg.head == h)].mean(),
                                       torch.tensor(1.0, dtype=torch.float64))


def test_gumbel_noise_is_finite_with_the_gumbel_mean():
    g = gumbel_noise(torch.Size([200000]), torch.Generator().manual_seed(0),
                     torch.device("cpu"))
    assert torch.isfinite(g).all()
    assert abs(g.mean().item() - 0.5772) < 0.01  # Euler–Mascheroni constant


def test_mcclk_one_hop_structural_view_matches_dense_reference(planted_kg):
    torch.manual_seed(0)
    model = MCCLK.build(planted_kg, MCCLK.Config(kg_layers=1)).double().eval()
    kg = planted_kg.kg.with_inverse()
    n_i, n_e = planted_kg.n_items, kg.n_entities
    with torch.no_grad():
        users, ents = model.structural()
        e0 = torch.cat([model.item_embedding.weight, model.entity_embedding.weight])
        u0, w = model.user_embedding.weight, model.relation_weight
        # entities: softmax over the head's triples of ||e_h ⊙ w_r||² ||e_t ⊙ w_r||², then the
        # weighted sum of w_r ⊙ e_t (the official code's Aggregator), dense loop
        agg = torch.zeros_like(e0)
        for h in range(n_e):
            m = kg.head == h
            if not m.any():
                continue
            t, r = torch.as_tensor(kg.tail[m]), torch.as_tensor(kg.relation[m])
            logits = (e0[h] * w[r]).pow(2).sum(1) * (e0[t] * w[r]).pow(2).sum(1)
            agg[h] = torch.softmax(logits, 0) @ (w[r] * e0[t])
        # users: mean of their items, gated by their softmax over the relations
        r_ui = torch.tensor(planted_kg.train_csr.toarray(), dtype=torch.float64)
        m_u = (r_ui / r_ui.sum(1, keepdim=True)) @ e0[:n_i]
        u1 = m_u + (torch.softmax(u0 @ w.T, 1) @ w) * m_u
        torch.testing.assert_close(ents, e0 + F.normalize(agg, dim=1))
        torch.testing.assert_close(users, u0 + F.normalize(u1, dim=1))


def test_mcclk_scores_combine_the_three_views(planted_kg):
    torch.manual_seed(0)
    model = MCCLK.build(planted_kg).double().eval()
    lightgcn = LightGCN.build(planted_kg, LightGCN.Config(n_layers=2)).double().eval()
    lightgcn.load_state_dict({k: v for k, v in model.state_dict().items()
                              if k.split(".")[0] in ("user_embedding", "item_embedding")})
    users = torch.arange(planted_kg.n_users)
    with torch.no_grad():
        v = model.views()
        _, ents_g = model.structural()
        # collaborative view: LightGCN on the same tables
        u_c, i_c = lightgcn.embeddings()
        torch.testing.assert_close(v["user_c"], u_c)
        torch.testing.assert_close(v["item_c"], i_c)
        # semantic view: half the kNN graph of the structural items, half that of the
        # layer-0 items, one layer over the layer-0 items, L2-normalised
        e0 = model.item_embedding.weight
        items_g = ents_g[:planted_kg.n_items]
        want_graph = 0.5 * (knn_graph(items_g, 10).to_dense() + knn_graph(e0, 10).to_dense())
        torch.testing.assert_close(model.semantic_graph(items_g).to_dense(), want_graph)
        torch.testing.assert_close(v["item_s"], F.normalize(want_graph @ e0, dim=1))
        # every row of the semantic graph has at most 2k entries, itself among them
        assert ((want_graph > 0).sum(1) <= 20).all() and (want_graph.diagonal() > 0).all()
        want = (v["user_g"] @ v["item_g"].T
                + v["user_c"] @ (v["item_c"] + v["item_s"]).T)
        torch.testing.assert_close(model.score(users), want)


def test_mcclk_contrastive_loss_by_hand(planted_kg):
    from ssrec.sampling import make_sampler

    torch.manual_seed(0)
    cfg = MCCLK.Config(cl_weight=0.5, alpha=0.3, tau=0.6)
    model = MCCLK.build(planted_kg, cfg).double().eval()  # eval: no dropout, deterministic
    batch = next(iter(make_sampler("pairwise", planted_kg, 16, seed=0).epoch()))
    with torch.no_grad():
        out = model.loss(batch)
        v = model.views()
        uid, iid = torch.unique(batch.users), torch.unique(batch.pos)

        def grace(a, b, head, tau=0.6):
            """The official code's calculate_loss: -log(between_ii / (Σ refl_i + Σ between_i
            - refl_ii)) over the rows of a, after the MLP, cosine similarities."""
            a, b = F.normalize(head(a), dim=1), F.normalize(head(b), dim=1)
            refl, between = torch.exp(a @ a.T / tau), torch.exp(a @ b.T / tau)
            return -torch.log(between.diag()
                              / (refl.sum(1) + between.sum(1) - refl.diag())).mean()

        s, c, g = v["item_s"][iid], v["item_c"][iid], v["item_g"][iid]
        local = grace(s, c, model.mlp_local)
        item = 0.5 * (grace(g, c + s, model.mlp_item) + grace(c + s, g, model.mlp_item))
        ug, uc = v["user_g"][uid], v["user_c"][uid]
        user = 0.5 * (grace(ug, uc, model.mlp_user) + grace(uc, ug, model.mlp_user))
        want = 0.5 * (0.3 * local + 0.35 * (item + user))
        torch.testing.assert_close(out.parts["cl"], want)
        assert out.parts["cl"] > 0 and set(out.parts) == {"bpr", "reg", "cl"}
