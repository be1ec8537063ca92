"""Short trainings on real data must beat the popularity baseline."""

from __future__ import annotations

import pytest

from conftest import require_dataset
from ssrec.config import load_config
from ssrec.training import run


def train(data_dir, model, *extra):
    cfg = load_config(None, [f"model.name={model}", "data.dataset=lastfm",
                             f"data.data_dir={data_dir}", "train.progress=false", *extra])
    return run(cfg, write=False)


@pytest.mark.slow
def test_lightgcn_and_simgcl_beat_mostpop_on_lastfm(data_dir):
    require_dataset(data_dir, "lastfm")
    pop = train(data_dir, "MostPop").test["recall@20"]
    assert 0.02 < pop < 0.06  # ~0.037: a real, non-trivial baseline
    for model in ("LightGCN", "SimGCL"):
        res = train(data_dir, model, "train.epochs=8", "train.min_epochs=0")
        assert res.test["recall@20"] > 2 * pop, (model, res.test, pop)
        assert res.test["ndcg@20"] > 0.05
