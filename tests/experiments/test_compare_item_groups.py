"""`ssrec compare` with ``item_groups``: Recall@K by item-popularity group per model."""

import json

import numpy as np
import pytest
import yaml

from ssrec.experiments import Experiment, build_report, run_experiment, write_report
from ssrec.experiments.report import GROUPS_FILES
from ssrec.training.run import PER_USER_FILE, read_per_user


def test_item_group_contributions_sum_to_each_runs_recall(tmp_path, planted_dir):
    spec = {"title": "groups", "seeds": [1, 2], "baseline": "MF", "item_groups": 3,
            "metrics": ["recall@20", "ndcg@20"],
            "base": {"train": {"epochs": 2, "min_epochs": 0}},
            "datasets": {"planted": {"data": {"dataset": str(planted_dir)}}},
            "models": {"MF": {}, "MostPop": {}}}
    path = tmp_path / "groups.yaml"
    path.write_text(yaml.safe_dump(spec))
    exp = Experiment.from_file(path, out=tmp_path / "exp")
    run_experiment(exp)
    table = build_report(exp)["datasets"]["planted"]["item_groups"]
    assert [g["group"] for g in table["groups"]] == [1, 2, 3]
    assert sum(g["target_share"] for g in table["groups"]) == pytest.approx(1.0)
    rows = {r["model"]: r for r in table["rows"]}
    for cell in exp.cells:
        res = json.loads((cell.run_dir / "results.json").read_text())["test"]["recall@20"]
        seed_index = spec["seeds"].index(cell.seed)
        parts = [e["values"][seed_index] for e in rows[cell.model]["groups"]]
        assert sum(parts) == pytest.approx(res, abs=1e-9)
        # per user too: the cached contributions sum to the exported per-user recall
        users, vals = read_per_user(cell.run_dir / PER_USER_FILE)
        g_users, g_vals = read_per_user(cell.run_dir / GROUPS_FILES[1])
        order = {u: i for i, u in enumerate(g_users.tolist())}
        total = sum(g_vals[f"g{g}"] for g in range(3))
        np.testing.assert_allclose(total[[order[u] for u in users.tolist()]],
                                   vals["recall@20"], atol=1e-12)
    top = rows["MostPop"]["groups"][2]
    assert top["test"]["users"] > 0 and 0 <= top["test"]["p_holm"] <= 1
    assert "baseline" not in rows["MF"]["groups"][0] and "test" not in rows["MF"]["groups"][0]
    md = write_report(exp)["md"].read_text()
    assert "Recall@20 by item popularity" in md and "| G1: pop " in md
    # the cache is reused: a second report does not reload the runs
    mtime = (exp.cells[0].run_dir / GROUPS_FILES[0]).stat().st_mtime_ns
    build_report(exp)
    assert (exp.cells[0].run_dir / GROUPS_FILES[0]).stat().st_mtime_ns == mtime
