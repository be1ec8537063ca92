"""BUIR / SelfCF (negative-free siamese models) and SSL4Rec: scores, stop-gradients, views."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ssrec.losses import batch_softmax
from ssrec.models import BUIR, SSL4Rec, SelfCF
from ssrec.sampling import make_sampler


def first_batch(data, size=64):
    return next(iter(make_sampler("pairwise", data, size, seed=0).epoch()))


@pytest.mark.parametrize("cls", [BUIR, SelfCF])
def test_score_is_the_two_sided_predictor_score(cls, planted):
    torch.manual_seed(0)
    model = cls.build(planted)
    users = torch.tensor([0, 5, 7])
    with torch.no_grad():
        e_u, e_i, _ = model.propagate()
        h = model.predictor
        expected = h(e_u[users]) @ e_i.T + e_u[users] @ h(e_i).T  # s = h(e_u)·e_i + e_u·h(e_i)
        model.on_eval_start("valid")
        torch.testing.assert_close(model.score(users), expected)
        model.on_eval_end()


@pytest.mark.parametrize("variant", ["he", "ed", "ep"])
def test_selfcf_targets_are_stop_gradient(variant, planted):
    """The gradient equals that of the loss with the targets replaced by constants."""
    torch.manual_seed(0)
    model = SelfCF.build(planted, SelfCF.Config(variant=variant, drop_rate=0.2))
    batch = first_batch(planted)
    model.generator = torch.Generator().manual_seed(1)
    out = model.loss(batch)
    assert torch.isfinite(out.total) and set(out.parts) == {"bootstrap", "reg"}
    out.total.backward()
    got = model.user_embedding.weight.grad.clone()
    # reference: recompute the same targets (same generator state), then treat them as data
    model.zero_grad()
    model.generator = torch.Generator().manual_seed(1)
    users, items, _ = model.propagate()
    t_u, t_i = model._targets(batch, users.detach().clone(), items.detach().clone())
    u, i, h = users[batch.users], items[batch.pos], model.predictor
    ref = 0.5 * ((1 - F.cosine_similarity(h(u), t_i)).mean()
                 + (1 - F.cosine_similarity(h(i), t_u)).mean())
    ref.backward()
    torch.testing.assert_close(got, model.user_embedding.weight.grad)


def test_selfcf_history_stores_the_last_online_output(planted):
    torch.manual_seed(0)
    model = SelfCF.build(planted, SelfCF.Config(variant="he", momentum=0.3))
    batch = first_batch(planted, 16)
    users, items, _ = model.propagate()
    model.loss(batch)
    assert model.history_user.abs().sum() == 0  # nothing is stored before the step
    model.on_after_step()
    seen = torch.zeros(planted.n_users, dtype=torch.bool)
    seen[batch.users] = True
    torch.testing.assert_close(model.history_user[seen], users.detach()[seen])
    assert model.history_user[~seen].abs().sum() == 0
    # the next target of a seen user mixes history and current output with weight m
    t_u, _ = model._targets(batch, users.detach() * 2, items.detach() * 2)
    u = users.detach()[batch.users]
    torch.testing.assert_close(t_u, 0.3 * u + 0.7 * 2 * u)


@pytest.mark.parametrize("view,cl_items,logq", [("dropout", "batch", False),
                                                 ("mask", "uniform", True)])
def test_ssl4rec_losses_and_cosine_scores(view, cl_items, logq, planted):
    torch.manual_seed(0)
    model = SSL4Rec.build(planted, SSL4Rec.Config(view=view, cl_items=cl_items, drop_rate=0.3,
                                                  logq_correction=logq))
    model.generator = torch.Generator().manual_seed(0)
    batch = first_batch(planted)
    out = model.loss(batch)
    with torch.no_grad():  # the main loss is the batch softmax, logQ-corrected on request
        pop = torch.as_tensor(planted.item_popularity, dtype=torch.float64)
        log_q = (pop / pop.sum()).log().float()[batch.pos] if logq else None
        q = model.user_tower(model.user_embedding(batch.users))
        v = model.item_tower(model.item_embedding(batch.pos))
        expected = batch_softmax(q, v, model.cfg.tau, log_q=log_q)
    torch.testing.assert_close(out.parts["softmax"], expected)
    assert set(out.parts) == {"softmax", "cl", "reg"}
    assert out.parts["cl"] > 0 and torch.isfinite(out.total)
    out.total.backward()
    assert model.item_tower[0].weight.grad.abs().sum() > 0
    with torch.no_grad():
        s = model.score(torch.arange(planted.n_users))
        q = model.user_tower(model.user_embedding.weight)
        v = model.item_tower(model.item_embedding.weight)
        torch.testing.assert_close(s, F.normalize(q, dim=1) @ F.normalize(v, dim=1).T)
    assert s.abs().max() <= 1 + 1e-5
