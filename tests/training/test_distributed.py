"""Distributed training and evaluation on CPU (gloo), with real torchrun launches.

Each test starts torchrun (2 processes, 1 thread each) on free loopback ports; a launch costs
a few seconds of start-up, so the runs of a test share one launch (``ddp_worker.py``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import REPO, require_dataset, write_planted
from ssrec.data import load_dataset
from ssrec.evaluation import Evaluator
from ssrec.training import run
from ssrec.training.run import build_model

WORKER = Path(__file__).with_name("ddp_worker.py")
TIMEOUT = 240  # seconds per launch; a 2-core CI machine needs well under half of it

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(),
                                reason="torch.distributed is not available in this build")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(data_dir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "src"), str(REPO / "tests"), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    if data_dir is not None:
        env["SSREC_DATA_DIR"] = str(data_dir)
    return env


def torchrun(args: list[str], env: dict[str, str], nproc: int = 2,
             rdzv: list[str] | None = None) -> subprocess.Popen:
    launch = rdzv if rdzv is not None else [
        "--nnodes", "1", "--master_addr", "127.0.0.1", "--master_port", str(free_port())]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
           *launch, *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def finish(proc: subprocess.Popen) -> str:
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"torchrun timed out:\n{out[-3000:]}")
    assert proc.returncode == 0, out[-3000:]
    return out


def state(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


def losses(run_dir: Path) -> list[float]:
    lines = [json.loads(x) for x in (run_dir / "log.jsonl").read_text().splitlines()]
    return [r["loss"]["total"] for r in lines if "loss" in r]


def test_shards_cover_the_batch_and_their_weights_give_the_batch_mean():
    """Contiguous shards of 7 rows over 3 ranks (2, 2, 3 rows); the mean over ranks of the
    weighted shard means is the batch mean; a rank left without rows gets row 0 at weight 0;
    the per-batch distinct users are left to be recomputed."""
    from ssrec.sampling import PairBatch, shard_batch

    users = torch.tensor([5, 1, 5, 2, 9, 9, 3])
    batch = PairBatch(users, users + 10, (users + 20).unsqueeze(1), torch.unique(users),
                      torch.unique(users + 10))
    loss = users.double()  # a per-row loss
    shards = [shard_batch(batch, r, 3) for r in range(3)]
    assert [s.users.tolist() for s, _ in shards] == [[5, 1], [5, 2], [9, 9, 3]]
    assert [w for _, w in shards] == pytest.approx([6 / 7, 6 / 7, 9 / 7])
    assert all(s.unique_users is None and s.unique_pos is None for s, _ in shards)
    assert torch.equal(shards[2][0].neg, torch.tensor([[29], [29], [23]]))
    means = [w * loss[a:b].mean() for (_, w), (a, b) in zip(shards, [(0, 2), (2, 4), (4, 7)])]
    assert float(sum(means) / 3) == pytest.approx(float(loss.mean()))
    small = PairBatch(users[:1], users[:1], users[:1].unsqueeze(1))
    assert [(s.users.tolist(), w) for s, w in (shard_batch(small, r, 2) for r in range(2))] == [
        ([5], 0.0), ([5], 2.0)]


def test_two_ranks_equal_one_process_at_the_same_global_batch(tmp_path):
    """A 2-rank LightGCN run on planted data (25 interactions per rank) ends where the
    1-process run with batches of 50 ends (an uneven last batch included), and a 2-rank run
    resumed after epoch 2 of 3 ends exactly where the uninterrupted 2-rank run ends."""
    data = write_planted(tmp_path / "toy")
    finish(torchrun([str(WORKER), "toy", str(tmp_path / "ddp"), str(data)], _env()))
    torch.set_num_threads(1)
    try:
        from ddp_worker import toy_config
        single = run(toy_config(str(data), str(tmp_path / "single"), 3, batch_size=50))
    finally:
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
    ddp = tmp_path / "ddp" / "full"
    res = json.loads((ddp / "results.json").read_text())
    assert res["environment"]["world_size"] == 2
    assert len(losses(ddp)) == 3
    np.testing.assert_allclose(losses(ddp), losses(tmp_path / "single"), rtol=1e-5)
    one, two = state(tmp_path / "single" / "last.pt"), state(ddp / "last.pt")
    for k in one:
        torch.testing.assert_close(two[k], one[k], rtol=1e-4, atol=1e-6)
    for k, v in single.test.items():
        assert res["test"][k] == pytest.approx(v, abs=1e-6), k
    # resume under DDP: exact (the same ranks, kernels and per-epoch seeds)
    resumed = tmp_path / "ddp" / "resumed"
    assert losses(resumed) == losses(ddp)
    three = state(resumed / "last.pt")
    for k in two:
        assert torch.equal(three[k], two[k]), k
    assert json.loads((resumed / "results.json").read_text())["test"] == res["test"]


def test_two_ranks_train_lastfm_and_shard_evaluation_exactly(tmp_path, data_dir):
    """LightGCN, SimGCL and SASRec train on 2 ranks and write their run folders (rank 0
    only); evaluation sharded over 2 ranks (blocks of 128 users, list metrics included)
    equals the single-process evaluation of the same weights bit for bit."""
    require_dataset(data_dir, "lastfm")
    finish(torchrun([str(WORKER), "lastfm", str(tmp_path)], _env(data_dir)))
    for model in ("LightGCN", "SimGCL", "SASRec"):
        res = json.loads((tmp_path / model / "results.json").read_text())
        assert res["model"] == model and res["epochs_run"] == 1
        assert res["environment"]["world_size"] == 2
        assert 0.0 < res["test"]["ndcg@20"] < 1.0, (model, res["test"])
        assert {"checkpoint.pt", "last.pt", "log.jsonl", "config.yaml"} <= {
            p.name for p in (tmp_path / model).iterdir()}
    from ddp_worker import lastfm_eval_config
    cfg = lastfm_eval_config()
    data = load_dataset(cfg.data, seed=cfg.seed)
    model = build_model(cfg, data)
    model.load_state_dict(torch.load(tmp_path / "weights.pt", weights_only=True))
    ev = Evaluator.from_config(data, "valid", cfg.eval, model, cfg.seed)
    assert ev.n_users > 4 * cfg.eval.block_size  # several blocks on each rank
    torch.set_num_threads(1)  # the ranks' thread count: the same kernels, block by block
    try:
        per_user, catalogue = ev.scores(model)
    finally:
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
    with np.load(tmp_path / "sharded_eval.npz") as z:
        assert set(z.files) == set(per_user)
        for k, v in per_user.items():
            assert np.array_equal(z[k], v), k
    assert json.loads((tmp_path / "sharded_catalogue.json").read_text()) == catalogue
    assert per_user["ndcg@20"].mean() > 0


def test_two_nodes_on_loopback_complete_a_run(tmp_path, data_dir):
    """Two torchrun launches (``--nnodes 2``, one process each) meet through a c10d
    rendezvous on 127.0.0.1 and train LightGCN on lastfm through the command line."""
    require_dataset(data_dir, "lastfm")
    port = free_port()
    rdzv = ["--nnodes", "2", "--rdzv_backend", "c10d", "--rdzv_endpoint",
            f"127.0.0.1:{port}", "--rdzv_id", f"ssrec-test-{port}"]
    args = ["-m", "ssrec", "train", "--model", "LightGCN", "--dataset", "lastfm",
            "--epochs", "1", "--out", str(tmp_path / "run"), "--set", "train.progress=false",
            "--json"]
    nodes = [torchrun([*args], _env(data_dir), nproc=1, rdzv=[*rdzv, "--node_rank", str(r)])
             for r in (0, 1)]
    outs = [finish(p) for p in nodes]
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert res["environment"]["world_size"] == 2 and res["epochs_run"] == 1
    # exactly one process printed the result: rank 0, on whichever node the rendezvous chose
    assert sum('"best_epoch": 1' in o for o in outs) == 1
