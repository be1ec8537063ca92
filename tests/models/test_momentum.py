"""The momentum (EMA) update and its use by BUIR through the trainer's on_after_step hook."""

from __future__ import annotations

import pytest
import torch

from ssrec.config import EvalConfig, TrainConfig
from ssrec.models import BUIR
from ssrec.models.layers import ema_
from ssrec.sampling import make_sampler
from ssrec.training import Trainer


def test_ema_by_hand():
    t = torch.tensor([1.0, 2.0])
    ema_(t, torch.tensor([3.0, 6.0]), 0.9)
    torch.testing.assert_close(t, torch.tensor([0.9 * 1 + 0.1 * 3, 0.9 * 2 + 0.1 * 6]))
    a, b = torch.zeros(2, 2), torch.ones(3)
    ema_([a, b], [torch.full((2, 2), 4.0), torch.zeros(3)], 0.75)
    torch.testing.assert_close(a, torch.full((2, 2), 1.0))
    torch.testing.assert_close(b, torch.full((3,), 0.75))
    frozen, src = torch.tensor([5.0]), torch.tensor([7.0])
    ema_(frozen, src, 1.0)
    assert frozen.item() == 5.0
    ema_(frozen, src, 0.0)
    assert frozen.item() == 7.0


def test_ema_does_not_track_gradients_and_checks_its_inputs():
    src = torch.tensor([1.0, 1.0], requires_grad=True)
    t = torch.zeros(2)
    ema_(t, src, 0.5)
    assert not t.requires_grad and t.grad_fn is None
    with pytest.raises(ValueError, match="momentum"):
        ema_(t, src, 1.5)
    with pytest.raises(ValueError, match="shape"):
        ema_(t, torch.zeros(3), 0.5)
    with pytest.raises(ValueError, match="target tensors"):
        ema_([t, t], [src], 0.5)


def test_buir_after_step_moves_the_target_by_the_momentum_rule(planted):
    torch.manual_seed(0)
    model = BUIR.build(planted, BUIR.Config(momentum=0.9))
    torch.testing.assert_close(model.target_user, model.user_embedding.weight.detach())
    with torch.no_grad():
        model.user_embedding.weight.add_(1.0)
    before = model.target_user.clone()
    online = model.user_embedding.weight.detach().clone()
    model.on_after_step()
    torch.testing.assert_close(model.target_user, 0.9 * before + 0.1 * online)


def test_buir_target_gets_no_gradient_and_follows_training(planted):
    torch.manual_seed(0)
    model = BUIR.build(planted)
    model.generator = torch.Generator().manual_seed(0)
    batch = next(iter(make_sampler("pairwise", planted, 64, seed=0).epoch()))
    model.loss(batch).total.backward()
    assert "target_user" not in dict(model.named_parameters())
    assert not model.target_user.requires_grad and model.target_user.grad is None
    init = model.target_user.clone()
    trainer = Trainer(model, planted, TrainConfig(epochs=2, batch_size=32, lr=0.01,
                                                  progress=False), EvalConfig(ks=[5]), seed=0)
    trainer.fit()
    moved = (model.target_user - init).norm()
    assert moved > 0
    # momentum 0.995 over a few steps: the target lags the online encoder
    assert moved < (model.user_embedding.weight.detach() - init).norm()
