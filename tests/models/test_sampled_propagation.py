"""Neighbour-sampled propagation (``model.propagation=sampled``, issue 18 part 3): exact when
every degree is within its fanout, unbiased otherwise, bounded work per step, row-sparse
gradients with a lazy Adam, and a real run that trains."""

from __future__ import annotations

import json

import pytest
import torch

from ssrec.config import EvalConfig, TrainConfig, load_config
from ssrec.errors import ConfigError
from ssrec.models import MODELS
from ssrec.models.layers.sampled import CSRGraph, propagate_sampled, sample_blocks
from ssrec.sampling import make_sampler
from ssrec.training import Trainer, run
from ssrec.training.trainer import Optimizers


def _dense_layers(data, ego, n_layers):
    a = data.norm_adj.to_dense().double()
    layers = [ego.double()]
    for _ in range(n_layers):
        layers.append(a @ layers[-1])
    return layers


def _reference(data, ego, n_layers, include_ego):
    layers = _dense_layers(data, ego, n_layers)
    used = layers if include_ego or n_layers == 0 else layers[1:]
    return sum(used) / len(used)


def _max_degree(data):
    crow = data.norm_adj.crow_indices().long()
    return int((crow[1:] - crow[:-1]).max())


@pytest.mark.parametrize("n_layers", [0, 1, 2, 3])
@pytest.mark.parametrize("include_ego", [True, False])
def test_fanout_at_least_the_max_degree_is_full_propagation(planted, n_layers, include_ego):
    torch.manual_seed(0)
    n = planted.n_users + planted.n_items
    ego = torch.randn(n, 8)
    graph = CSRGraph.from_sparse(planted.norm_adj)
    rows = torch.tensor([0, 5, 5, planted.n_users + 3, n - 1, 17])
    blocks = sample_blocks(graph, rows, [_max_degree(planted)] * n_layers)
    got = propagate_sampled(blocks, lambda ids: ego[ids], include_ego)
    want = _reference(planted, ego, n_layers, include_ego)[blocks.nodes[0]]
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["LightGCN", "SimGCL"])
def test_sampled_model_loss_and_gradients_equal_full_ones_at_large_fanout(planted, name):
    torch.manual_seed(0)
    full = MODELS.get(name).build(planted, {"n_layers": 3, **({"eps": 0.0} if name == "SimGCL"
                                                              else {})})
    samp = MODELS.get(name).build(planted, {
        "n_layers": 3, "propagation": "sampled", "fanouts": [_max_degree(planted)],
        **({"eps": 0.0} if name == "SimGCL" else {})})
    samp.load_state_dict(full.state_dict())
    batch = next(iter(make_sampler("pairwise", planted, 32, 0, torch.device("cpu")).epoch()))
    lf, ls = full.loss(batch), samp.loss(batch)
    torch.testing.assert_close(ls.total, lf.total, rtol=1e-5, atol=1e-7)
    lf.total.backward()
    ls.total.backward()
    for table in ("user_embedding", "item_embedding"):
        g = getattr(samp, table).weight.grad
        assert g.is_sparse  # row-sparse: only the rows read
        torch.testing.assert_close(g.to_dense(), getattr(full, table).weight.grad,
                                   rtol=1e-4, atol=1e-7)


def test_sampled_estimate_is_unbiased(planted):
    """Fanout 2 (most degrees are 4-12): the mean of 1,500 draws approaches Â-propagation; the
    error of the mean stays within a few standard errors, entry by entry."""
    torch.manual_seed(1)
    n = planted.n_users + planted.n_items
    ego = torch.randn(n, 4, dtype=torch.float64)
    graph = CSRGraph.from_sparse(planted.norm_adj)
    graph = CSRGraph(graph.crow, graph.col, graph.val.double())
    rows = torch.arange(0, n, 3)
    want = _reference(planted, ego, 3, True)[rows]
    gen = torch.Generator().manual_seed(0)
    draws = torch.stack([propagate_sampled(sample_blocks(graph, rows, [2, 2, 2], gen),
                                           lambda ids: ego[ids]) for _ in range(1500)])
    mean, se = draws.mean(0), draws.std(0) / 1500 ** 0.5
    assert draws.std(0).max() > 0.01  # it does sample
    z = ((mean - want).abs() / se.clamp(min=1e-12))
    assert z.max() < 5.5, float(z.max())
    assert float(z.mean()) < 1.2  # |N(0,1)| has mean 0.8


def test_work_per_step_is_bounded_by_the_fanouts(planted):
    graph = CSRGraph.from_sparse(planted.norm_adj)
    rows = torch.arange(0, 12)
    blocks = sample_blocks(graph, rows, [3, 2, 2])
    # N_k = N_(k-1) ∪ its draws: at most |N_0| (Π (1 + f_k) - 1) draws in all
    assert blocks.n_edges <= 12 * ((1 + 3) * (1 + 2) * (1 + 2) - 1)
    big = sample_blocks(graph, rows, [100, 100, 100])  # every neighbour: the graph's size
    assert big.n_edges <= 3 * planted.norm_adj.values().numel()
    for k, hop in enumerate(blocks.hops, start=1):
        assert int(hop.dst.max()) < blocks.nodes[k - 1].numel()
        assert int(hop.src.max()) < blocks.nodes[k].numel()
        assert bool(torch.isin(blocks.nodes[k - 1], blocks.nodes[k]).all())


def test_configuration_errors(planted):
    with pytest.raises(ConfigError, match="not available for XSimGCL"):
        MODELS.get("XSimGCL").build(planted, {"propagation": "sampled"})
    with pytest.raises(ConfigError, match="sparse_grad=true needs"):
        MODELS.get("LightGCN").build(planted, {"sparse_grad": True})
    model = MODELS.get("LightGCN").build(planted, {"propagation": "sampled"})
    with pytest.raises(ConfigError, match="weight_decay"):
        Trainer(model, planted, TrainConfig(epochs=1, weight_decay=1e-4, progress=False),
                EvalConfig(), seed=0)
    dense = MODELS.get("LightGCN").build(planted, {"propagation": "sampled",
                                                   "sparse_grad": False})
    tr = Trainer(dense, planted, TrainConfig(epochs=1, progress=False), EvalConfig(), seed=0)
    assert isinstance(tr.optimizer, torch.optim.Adam)


class _Interrupt:
    """Stops training at the start of an epoch, as a killed process would."""

    def __init__(self, at: int):
        self.at = at

    def on_epoch_start(self, trainer, epoch):
        if epoch == self.at:
            raise KeyboardInterrupt


def test_sampled_training_resumes_exactly(planted_dir, tmp_path):
    """The lazy optimiser's state and the sampling generator go through last.pt: a resumed
    run equals an uninterrupted one."""
    base = ["model.name=LightGCN", f"data.dataset={planted_dir}", "train.epochs=4",
            "train.batch_size=16", "train.progress=false", "seed=3", "train.num_threads=1",
            "model.propagation=sampled", "model.fanouts=[2]"]
    a = run(load_config(None, [*base, f"output_dir={tmp_path / 'a'}"]))
    cfg = load_config(None, [*base, f"output_dir={tmp_path / 'b'}"])
    with pytest.raises(KeyboardInterrupt):
        run(cfg, callbacks=[_Interrupt(3)])
    b = run(cfg, resume=True)
    assert a.test == b.test and a.valid == b.valid
    state = torch.load(tmp_path / "b" / "last.pt", weights_only=False)["optimizer"]
    assert len(state["optimizers"]) == 1  # SparseAdam only: LightGCN has only its tables
    opt = Optimizers([torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)])
    with pytest.raises(ConfigError, match="optimiser state"):
        opt.load_state_dict({"optimizers": []})


@pytest.mark.slow
@pytest.mark.data
def test_sampled_lightgcn_and_simgcl_train_on_lastfm(data_dir, tmp_path):
    from conftest import require_dataset

    require_dataset(data_dir, "lastfm")
    pop = None
    for model in ("MostPop", "LightGCN", "SimGCL"):
        cfg = load_config(None, [f"model.name={model}", "data.dataset=lastfm",
                                 f"data.data_dir={data_dir}", "train.progress=false",
                                 "train.epochs=4", "train.num_threads=1",
                                 f"output_dir={tmp_path / model}"]
                          + (["model.propagation=sampled"] if model != "MostPop" else []))
        res = run(cfg)
        if model == "MostPop":
            pop = res.test["recall@20"]
            continue
        log = [json.loads(x) for x in (tmp_path / model / "log.jsonl").read_text().splitlines()]
        losses = [r["loss"]["total"] for r in log if "loss" in r]
        assert losses[-1] < losses[0]
        assert res.test["recall@20"] > 1.5 * pop, (model, res.test, pop)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_sampled_propagation_on_cuda_equals_full_at_large_fanout(planted):
    torch.manual_seed(0)
    full = MODELS.get("LightGCN").build(planted, {"n_layers": 3}).cuda()
    samp = MODELS.get("LightGCN").build(planted, {
        "n_layers": 3, "propagation": "sampled", "fanouts": [_max_degree(planted)]}).cuda()
    samp.load_state_dict(full.state_dict())
    samp.generator = torch.Generator(device="cuda").manual_seed(0)
    batch = next(iter(make_sampler("pairwise", planted, 32, 0, torch.device("cuda")).epoch()))
    torch.testing.assert_close(samp.loss(batch).total, full.loss(batch).total,
                               rtol=1e-5, atol=1e-7)
    small = MODELS.get("LightGCN").build(planted, {"propagation": "sampled", "fanouts": [2]})
    small = small.cuda()
    small.generator = torch.Generator(device="cuda").manual_seed(0)
    small.loss(batch).total.backward()
    assert small.item_embedding.weight.grad.is_cuda
