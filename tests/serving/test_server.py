"""The HTTP API against a real server on a free loopback port (issue 15): answers equal the
evaluator's top-K for the same weights (exact index) for a graph model, MF and a sequential
model; the error codes; a property-based fuzz finds no 500."""

from __future__ import annotations

import json
from contextlib import ExitStack

import numpy as np
import pytest
from servekit import evaluator_top, raw_history, served_runs, serving

from ssrec.serving import Engine, load_export
from ssrec.serving.app import K_MAX, MAX_HISTORY, MAX_USERS
from ssrec.serving.artifacts import known_items
from ssrec.training.run import load_run

K = 10


@pytest.fixture(scope="module")
def runs(tmp_path_factory, planted_dir, planted_seq_file):
    return served_runs(tmp_path_factory.mktemp("served"), planted_dir, planted_seq_file)


@pytest.fixture(scope="module")
def clients(runs):
    """``{label: (client, reloaded run)}``: a server on each export, exact index."""
    with ExitStack() as stack:
        out = {}
        for label, (run_dir, export) in runs.items():
            client = stack.enter_context(serving(Engine(load_export(export))))
            out[label] = (client, load_run(run_dir))
        yield out


def get_recs(client, user, **params):
    r = client.get("/recommend", params={"user": user, "k": K, **params})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"] == user and len(body["items"]) == len(body["scores"])
    assert body["scores"] == sorted(body["scores"], reverse=True)
    return body["items"]


@pytest.mark.parametrize("label", ["LightGCN", "MF"])
def test_answers_equal_the_evaluators_top_k(clients, label):
    client, loaded = clients[label]
    # the run's protocol: known items excluded; served, the user's test items are known too
    assert client.get("/info").json()["exclude_seen_default"] is True
    masked = evaluator_top(loaded, K, exclude_seen=True, mask=known_items(loaded.data))
    open_ = evaluator_top(loaded, K, exclude_seen=False)
    assert len(masked) == loaded.data.n_users  # every planted user has test items
    for user in masked:
        assert get_recs(client, user) == masked[user]
        assert get_recs(client, user, exclude_seen="false") == open_[user]
    # with the evaluator's own test mask (train + valid), the served answer is its top-K with
    # the user's test items removed
    proto = evaluator_top(loaded, 2 * K, exclude_seen=True)
    data = loaded.data
    for user in list(masked)[:10]:
        test = set(data.items.to_raw(data.test_csr[data.users.index(user)].indices).tolist())
        assert masked[user] == [i for i in proto[user] if i not in test][:K]
    # a batch answers as the single requests do, in the order given
    users = list(masked)[::-1][:25]
    r = client.post("/recommend", json={"users": users, "k": K})
    assert r.status_code == 200
    assert [x["user"] for x in r.json()["results"]] == users
    assert [x["items"] for x in r.json()["results"]] == [masked[u] for u in users]


def test_scores_are_the_models_scores(clients):
    import torch

    client, loaded = clients["LightGCN"]
    body = client.get("/recommend", params={"user": "u7", "k": 5}).json()
    u = loaded.data.users.index("u7")
    dev = next(loaded.model.parameters()).device
    with torch.no_grad():
        loaded.model.on_eval_start("test")
        s = loaded.model.score(torch.tensor([u], device=dev))[0].cpu().numpy()
        loaded.model.on_eval_end()
    rows = loaded.data.items.to_index(body["items"])
    np.testing.assert_allclose(body["scores"], s[rows], rtol=1e-5, atol=1e-6)


def test_sequential_answers_equal_the_evaluators_top_k(clients, runs, capsys):
    client, loaded = clients["SASRec"]
    info = client.get("/info").json()
    assert info["exclude_seen_default"] is False and info["model"]["family"] == "sequential"
    # a history sent at request time: the evaluator's test input gives its test top-K
    test_input = evaluator_top(loaded, K, exclude_seen=False)
    # a known user: the whole history, latest item included, as the evaluator would read it
    whole = evaluator_top(loaded, K, exclude_seen=False, history="all")
    differ = 0
    for user in test_input:
        r = client.post("/recommend/history",
                        json={"items": raw_history(loaded, user, "test"), "k": K})
        assert r.status_code == 200, r.text
        assert r.json()["items"] == test_input[user]
        served = get_recs(client, user)
        assert served == whole[user]
        r = client.post("/recommend/history",
                        json={"items": raw_history(loaded, user, "all"), "k": K})
        assert r.json()["items"] == served
        differ += served != test_input[user]
    assert differ > len(test_input) // 2  # the latest item changes most answers
    # `ssrec recommend` answers as the server does, on the run and on the export
    from ssrec.cli import main

    run_dir, export = runs["SASRec"]
    for source in (run_dir, export):
        assert main(["recommend", str(source), "--user", "u5", "-k", str(K), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["items"] == whole["u5"]
    # excluding the history
    r = client.post("/recommend/history", json={"items": ["1", "2", "3"], "k": 38,
                                                "exclude_seen": True})
    assert not {"1", "2", "3"} & set(r.json()["items"]) and len(r.json()["items"]) == 37


def test_history_fold_in_for_other_models(clients):
    client, loaded = clients["MF"]
    items = ["i1", "i2", "i5"]
    r = client.post("/recommend/history", json={"items": items, "k": 5, "exclude_seen": True})
    assert r.status_code == 200
    vecs = loaded.model.item_embedding.weight.detach().cpu().numpy()
    q = vecs[loaded.data.items.to_index(items)].mean(0)
    s = vecs @ q
    s[loaded.data.items.to_index(items)] = -np.inf
    assert r.json()["items"] == loaded.data.items.to_raw(np.argsort(-s)[:5]).tolist()


def test_similar_items_are_the_nearest_by_inner_product(clients):
    client, loaded = clients["LightGCN"]
    r = client.get("/similar-items", params={"item": "i3", "k": 6})
    assert r.status_code == 200
    with __import__("torch").no_grad():
        _, items = loaded.model.embeddings()
    v = items.cpu().numpy()
    s = v @ v[loaded.data.items.index("i3")]
    s[loaded.data.items.index("i3")] = -np.inf
    assert r.json()["items"] == loaded.data.items.to_raw(np.argsort(-s)[:6]).tolist()


def test_health_and_info(clients, runs):
    client, loaded = clients["LightGCN"]
    assert client.get("/health").json() == {"status": "ok"}
    info = client.get("/info").json()
    results = json.loads((runs["LightGCN"][0] / "results.json").read_text())
    assert info["model"]["name"] == "LightGCN" and info["dataset"] == loaded.data.name
    assert info["metrics"]["test"] == results["test"]
    assert info["protocol"] == results["protocol"]
    assert info["index"]["kind"] == "exact"
    assert info["limits"] == {"k_max": K_MAX, "max_users": MAX_USERS, "max_history": MAX_HISTORY}


def test_approximate_indexes_from_the_export(runs):
    _, export = runs["LightGCN"]
    art = load_export(export)
    exact = Engine(art)
    for kind in ("hnsw", "ivf"):
        engine = Engine(art, index=kind)
        meta = engine.info()["index"]
        assert meta["kind"] == kind and meta["source"].startswith("built at export")
        assert 0.0 <= meta["recall@20"] <= 1.0 and meta["users_measured"] == 60
        with serving(engine) as client:
            assert client.get("/info").json()["index"]["recall@20"] == meta["recall@20"]
            for user in ("u0", "u1", "u2"):
                items = get_recs(client, user)
                # on 40 items an approximate index finds the exact answer
                assert items == exact.recommend(user, K)[0]


@pytest.mark.parametrize("method, path, kw, fragment", [
    ("get", "/recommend", {"params": {"user": "nobody"}}, "unknown user 'nobody'"),
    ("get", "/similar-items", {"params": {"item": "nope"}}, "unknown item 'nope'"),
    ("post", "/recommend", {"json": {"users": ["u1", "ghost"]}}, "unknown user 'ghost'"),
    ("post", "/recommend/history", {"json": {"items": ["i1", "nope"]}}, "unknown item 'nope'"),
])
def test_unknown_ids_are_404_naming_them(clients, method, path, kw, fragment):
    client, _ = clients["LightGCN"]
    r = getattr(client, method)(path, **kw)
    assert r.status_code == 404 and fragment in r.json()["detail"]


@pytest.mark.parametrize("method, path, kw, fragment", [
    ("get", "/recommend", {"params": {"user": "u1", "k": 0}}, "query.k"),
    ("get", "/recommend", {"params": {"user": "u1", "k": -3}}, "query.k"),
    ("get", "/recommend", {"params": {"user": "u1", "k": K_MAX + 1}}, "less than or equal"),
    ("get", "/recommend", {"params": {"user": "u1", "k": "ten"}}, "query.k"),
    ("get", "/recommend", {"params": {"user": "u1", "exclude_seen": "maybe"}},
     "query.exclude_seen"),
    ("get", "/recommend", {"params": {}}, "query.user: Field required"),
    ("get", "/similar-items", {"params": {"item": "i1", "k": 0}}, "query.k"),
    ("post", "/recommend", {"content": b"{not json", "headers": {"content-type":
                                                                  "application/json"}},
     "JSON"),
    ("post", "/recommend", {"json": {"users": "u1"}}, "body.users"),
    ("post", "/recommend", {"json": {"users": []}}, "body.users"),
    ("post", "/recommend", {"json": {"users": [1, 2]}}, "body.users.0"),
    ("post", "/recommend", {"json": {"users": ["u1"], "kk": 3}}, "body.kk"),
    ("post", "/recommend", {"json": {"users": ["u1"] * (MAX_USERS + 1)}}, "body.users"),
    ("post", "/recommend", {"json": {"users": ["u1"], "k": K_MAX + 1}}, "body.k"),
    ("post", "/recommend/history", {"json": {"items": []}}, "body.items"),
    ("post", "/recommend/history", {"json": {"items": ["i1"] * (MAX_HISTORY + 1)}},
     "body.items"),
    ("post", "/recommend/history", {"json": [1, 2]}, "body"),
])
def test_bad_input_is_422_naming_the_field(clients, method, path, kw, fragment):
    client, _ = clients["LightGCN"]
    r = getattr(client, method)(path, **kw)
    assert r.status_code == 422, r.text
    assert fragment in r.json()["detail"]


def test_k_above_the_catalogue_returns_what_there_is(clients):
    client, loaded = clients["MF"]
    user = "u1"
    n_known = known_items(loaded.data)[loaded.data.users.index(user)].nnz
    body = client.get("/recommend", params={"user": user, "k": K_MAX}).json()
    assert len(body["items"]) == loaded.data.n_items - n_known
    assert len(set(body["items"])) == len(body["items"])


def test_fuzzed_requests_never_get_a_500(clients):
    """Property-based fuzz of every endpoint: random query strings, JSON bodies and raw
    bytes get 200, 404, 405 or 422, with a JSON body, never a 5xx."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    client, _ = clients["SASRec"]
    ids = st.one_of(st.sampled_from(["u1", "u2", "1", "0", "39", ""]), st.text(max_size=30))
    scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                       st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20))
    json_value = st.recursive(scalar, lambda c: st.lists(c, max_size=4)
                              | st.dictionaries(st.text(max_size=8), c, max_size=4),
                              max_leaves=10)
    query = st.dictionaries(st.sampled_from(["user", "item", "k", "exclude_seen", "x"]),
                            st.one_of(ids, st.integers(-5, 2000).map(str),
                                      st.sampled_from(["true", "false", "1", "nan", "1e3"])),
                            max_size=4)
    body = st.one_of(
        st.fixed_dictionaries({}, optional={"users": st.one_of(st.lists(ids, max_size=5),
                                                               json_value),
                                            "items": st.one_of(st.lists(ids, max_size=5),
                                                               json_value),
                                            "k": st.one_of(st.integers(-3, 1200), json_value),
                                            "exclude_seen": json_value}),
        json_value)
    paths = st.sampled_from(["/recommend", "/recommend/history", "/similar-items", "/info",
                             "/health"])

    @settings(max_examples=250, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(path=paths, method=st.sampled_from(["GET", "POST"]), params=query, payload=body,
           raw=st.one_of(st.none(), st.binary(max_size=40)))
    def check(path, method, params, payload, raw):
        if method == "GET":
            r = client.get(path, params=params)
        elif raw is not None:
            r = client.post(path, params=params, content=raw,
                            headers={"content-type": "application/json"})
        else:
            r = client.post(path, params=params,
                            content=json.dumps(payload, allow_nan=True).encode(),
                            headers={"content-type": "application/json"})
        assert r.status_code in (200, 404, 405, 422), (r.status_code, r.text)
        r.json()

    check()
