"""`ssrec export` (files, manifest, checksums, refusals), the sequential encoder saved for
request time, and `ssrec serve` from the command line."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from servekit import train

from ssrec.cli import main
from ssrec.data.catalog import sha256_file
from ssrec.errors import SsrecError
from ssrec.models import MODELS
from ssrec.serving import Engine, from_run, load_export
from ssrec.serving.artifacts import known_items
from ssrec.training.run import load_run


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("ssrec: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def lightgcn(tmp_path_factory, planted_dir):
    return train(planted_dir, tmp_path_factory.mktemp("exp") / "run", "LightGCN", 3)


@pytest.fixture(scope="module")
def bert4rec(tmp_path_factory, planted_seq_file):
    return train(planted_seq_file, tmp_path_factory.mktemp("exp") / "bert", "BERT4Rec", 2,
                 "data.split=loo")


def test_export_writes_representations_maps_history_and_manifest(lightgcn, tmp_path, capsys):
    out = tmp_path / "export"
    code, stdout, _ = run_cli(capsys, "export", lightgcn, "--out", out)
    assert code == 0 and "exported LightGCN" in stdout
    assert re.search(r"hnsw index: recall@20 [01]\.\d{4} against exact", stdout)
    man = json.loads((out / "manifest.json").read_text())
    results = json.loads((lightgcn / "results.json").read_text())
    assert man["format"] == "ssrec-export" and man["model"]["name"] == "LightGCN"
    assert man["model"]["family"] == "graph" and man["model"]["params"]["n_layers"] == 3
    assert man["protocol"] == results["protocol"] and man["metrics"]["test"] == results["test"]
    assert man["dataset"] == results["protocol"]["dataset"]
    assert set(man["indexes"]) == {"hnsw", "ivf"}
    for meta in man["indexes"].values():
        assert 0 <= meta["recall@20"] <= 1 and meta["users_measured"] == 60
    assert set(man["files"]) == {"users.npy", "items.npy", "user_ids.json", "item_ids.json",
                                 "history.npz", "index-hnsw.faiss", "index-ivf.faiss"}
    for name, meta in man["files"].items():
        assert meta["sha256"] == sha256_file(out / name)
    assert not list(tmp_path.glob(".export.*"))  # the temporary folder is gone
    # the arrays: float32, raw ids in row order, scores equal to the model's
    loaded = load_run(lightgcn)
    users, items = np.load(out / "users.npy"), np.load(out / "items.npy")
    assert users.dtype == items.dtype == np.float32 and users.shape == (60, 64)
    assert json.loads((out / "item_ids.json").read_text()) == loaded.data.items.to_list()
    assert json.loads((out / "user_ids.json").read_text()) == loaded.data.users.to_list()
    dev = next(loaded.model.parameters()).device
    with torch.no_grad():
        loaded.model.on_eval_start("test")
        scores = loaded.model.score(torch.arange(60, device=dev)).cpu().numpy()
        loaded.model.on_eval_end()
    np.testing.assert_allclose(users @ items.T, scores, rtol=1e-5, atol=1e-6)
    art = load_export(out)
    assert (art.history != known_items(loaded.data)).nnz == 0
    assert art.history.nnz == len(loaded.data.train) + len(loaded.data.valid) + len(
        loaded.data.test)


def test_export_refusals_exit_2_with_one_line(lightgcn, planted_dir, tmp_path, capsys):
    out = tmp_path / "export"
    assert run_cli(capsys, "export", lightgcn, "--out", out, "--ann", "none")[0] == 0
    code, _, err = run_cli(capsys, "export", lightgcn, "--out", out)
    assert code == 2 and "already holds an export; pass --overwrite" in one_error(err)
    code, _, _ = run_cli(capsys, "export", lightgcn, "--out", out, "--overwrite", "--ann", "ivf")
    assert code == 0 and set(json.loads((out / "manifest.json").read_text())["indexes"]) == {"ivf"}
    knn = train(planted_dir, tmp_path / "knn", "ItemKNN", 1)
    code, _, err = run_cli(capsys, "export", knn, "--out", tmp_path / "x")
    assert code == 2 and "ItemKNN does not score by an inner product" in one_error(err)
    assert not (tmp_path / "x").exists()
    # ssrec recommend still answers for such a model, from its own scores
    code, out_, _ = run_cli(capsys, "recommend", knn, "--user", "u1", "-k", "3", "--json")
    assert code == 0 and len(json.loads(out_)["items"]) == 3
    unfinished = tmp_path / "unfinished"
    shutil.copytree(lightgcn, unfinished)
    (unfinished / "results.json").unlink()
    code, _, err = run_cli(capsys, "export", unfinished, "--out", tmp_path / "y")
    assert code == 2 and "never finished" in one_error(err)


def test_a_changed_or_foreign_export_is_refused_naming_the_file(lightgcn, tmp_path):
    out = tmp_path / "export"
    main(["export", str(lightgcn), "--out", str(out), "--ann", "none"])
    arr = np.load(out / "items.npy")
    arr[0, 0] += 1
    np.save(out / "items.npy", arr)
    with pytest.raises(SsrecError, match=r"items\.npy: its sha256 differs"):
        load_export(out)
    with pytest.raises(SsrecError, match="holds no manifest.json"):
        load_export(tmp_path)
    man = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**man, "version": 99}))
    with pytest.raises(SsrecError, match="field 'version' is 99"):
        load_export(out)


@pytest.mark.parametrize("name", ["SASRec", "BERT4Rec", "CL4SRec", "DuoRec"])
def test_sequential_logits_are_an_inner_product(name, planted_seq):
    torch.manual_seed(0)
    model = MODELS.get(name).build(planted_seq).eval()
    with torch.no_grad():
        torch.nn.init.normal_(getattr(model, "output_bias", torch.empty(0)))
        h = torch.randn(5, model.cfg.embedding_dim)
        np.testing.assert_allclose(model.logits(h).numpy(),
                                   (model.query_vectors(h) @ model.output_vectors().T).numpy(),
                                   rtol=1e-5, atol=1e-5)


def test_whole_history_is_the_test_input_plus_the_latest_item(planted_seq):
    seqs = planted_seq.sequences
    test, whole = seqs.history("test"), seqs.history("all")
    for u in range(planted_seq.n_users):
        target = planted_seq.test_csr[u].indices
        assert whole.row(u).tolist() == test.row(u).tolist() + target.tolist()


def test_the_exported_encoder_encodes_as_the_run_does(bert4rec, tmp_path, capsys):
    out = tmp_path / "export"
    assert run_cli(capsys, "export", bert4rec, "--out", out, "--ann", "none")[0] == 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["sequential"]["encoder"] == "encoder.pt" and "encoder.pt" in man["files"]
    loaded = load_run(bert4rec)
    exported, live = Engine(load_export(out)), Engine(from_run(loaded))
    assert exported.art.items.shape == (40, 65)  # BERT4Rec: [item, bias]
    for items in (["3", "4", "5"], ["0"], [str(i) for i in range(10, 20)] * 6):
        rows = exported.item_rows(items)
        np.testing.assert_allclose(exported.history_query(rows), live.history_query(rows),
                                   rtol=1e-5, atol=1e-5)
        (a, sa), (b, sb) = exported.recommend_history(items, 5), live.recommend_history(items, 5)
        assert a == b and sa == pytest.approx(sb, rel=1e-5)
    # a known user: the model's logits after the whole history
    model, data = loaded.model, loaded.data
    dev = next(model.parameters()).device
    with torch.no_grad():
        seq, n = model.history_input(data.sequences.history("all"), np.arange(data.n_users))
        logits = model.logits(model.state(seq.to(dev), n.to(dev))).cpu().numpy()
    np.testing.assert_allclose(exported.art.users @ exported.art.items.T, logits, rtol=1e-4,
                               atol=1e-4)


def test_serve_errors_exit_2_with_one_line(lightgcn, tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(capsys, "serve", tmp_path / "nothing")
    assert code == 2 and "config.yaml not found" in one_error(err)
    code, _, err = run_cli(capsys, "serve", lightgcn, "--port", "70000")
    assert code == 2 and "--port 70000" in one_error(err)
    from ssrec.serving.app import bind

    taken = bind("127.0.0.1", 0)
    try:
        code, _, err = run_cli(capsys, "serve", lightgcn, "--port", taken.getsockname()[1])
        assert code == 2 and "cannot listen on 127.0.0.1" in one_error(err)
    finally:
        taken.close()
    monkeypatch.setitem(sys.modules, "fastapi", None)
    monkeypatch.delitem(sys.modules, "ssrec.serving.app")
    code, _, err = run_cli(capsys, "serve", lightgcn)
    assert code == 2 and "pip install 'ssrec[serve]'" in one_error(err)


def test_ssrec_serve_answers_over_http(lightgcn, tmp_path, capsys):
    """The README's path: export, `ssrec serve EXPORT`, a request."""
    import httpx

    out = tmp_path / "export"
    assert run_cli(capsys, "export", lightgcn, "--out", out)[0] == 0
    proc = subprocess.Popen([sys.executable, "-m", "ssrec", "serve", str(out), "--port", "0",
                             "--index", "hnsw"], stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        deadline = time.monotonic() + 120
        while "http://" not in line:
            assert time.monotonic() < deadline and proc.poll() is None, line
            line = proc.stderr.readline()
        url = re.search(r"http://[\d.]+:\d+", line).group(0)
        r = httpx.get(f"{url}/recommend", params={"user": "u3", "k": 5}, timeout=30)
        assert r.status_code == 200
        assert r.json()["items"] == Engine(load_export(out)).recommend("u3", 5)[0]
        assert httpx.get(f"{url}/info", timeout=30).json()["index"]["kind"] == "hnsw"
    finally:
        proc.terminate()
        proc.wait(timeout=60)


@pytest.mark.parametrize("name", MODELS.names())
def test_every_model_exports_its_own_scores_or_is_refused(name, request, planted_for):
    """users @ items.T equals the model's scores (sequential models: after the whole
    history); models that do not score by an inner product are refused by name."""
    from ssrec.serving.artifacts import exportable, representations

    cls = MODELS.get(name)
    data = request.getfixturevalue("planted_social") if cls.needs_social else planted_for(cls)
    torch.manual_seed(0)
    model = cls.build(data).eval()
    if not exportable(model):
        assert name in ("MostPop", "ItemKNN", "UserKNN", "Transition", "SKNN", "BehaviorPop")
        with pytest.raises(SsrecError, match=f"{name} does not score by an inner product"):
            representations(model, data)
        return
    users, items = representations(model, data)
    assert users.dtype == items.dtype == np.float32
    with torch.no_grad():
        if cls.family == "sequential":
            model._history = data.sequences.history("all")  # the evaluator's way, whole history
        else:
            model.on_eval_start("test")
        scores = model.score(torch.arange(data.n_users)).float().cpu().numpy()
        model.on_eval_end()
    np.testing.assert_allclose(users @ items.T, scores, rtol=1e-4, atol=1e-5)
