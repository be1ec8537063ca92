"""`ssrec compare` tables carry the beyond-accuracy list metrics selected in eval.metrics."""

import json

import pytest
import yaml

from ssrec.experiments import Experiment, build_report, run_experiment, write_report


def test_compare_reports_list_metrics(tmp_path, planted_dir):
    spec = {"title": "lists", "seeds": [1, 2], "baseline": "MF",
            "metrics": ["ndcg@20", "coverage@20", "gini@20", "avgpop@20"],
            "base": {"train": {"epochs": 2, "min_epochs": 0},
                     "eval": {"metrics": ["ndcg", "recall", "coverage", "gini", "avgpop"]}},
            "datasets": {"planted": {"data": {"dataset": str(planted_dir)}}},
            "models": {"MF": {}, "MostPop": {}}}
    path = tmp_path / "lists.yaml"
    path.write_text(yaml.safe_dump(spec))
    exp = Experiment.from_file(path, out=tmp_path / "exp")
    run_experiment(exp)
    rows = {r["model"]: r for r in build_report(exp)["datasets"]["planted"]["rows"]}
    pop = rows["MostPop"]["metrics"]
    for m in ("coverage@20", "gini@20", "avgpop@20"):  # the mean over the seeds' runs
        runs = [json.loads((c.run_dir / "results.json").read_text())["test"][m]
                for c in exp.cells if c.model == "MostPop"]
        assert pop[m]["mean"] == pytest.approx(sum(runs) / len(runs))
    # catalogue metrics have no per-user values: no paired test; per-user ones have one
    assert "test" not in pop["coverage@20"] and "test" not in pop["gini@20"]
    assert pop["avgpop@20"]["test"]["users"] > 0
    # MostPop fills every list with the same popular items: less coverage than MF
    assert pop["coverage@20"]["mean"] < rows["MF"]["metrics"]["coverage@20"]["mean"]
    assert pop["avgpop@20"]["mean"] > rows["MF"]["metrics"]["avgpop@20"]["mean"]
    assert "coverage@20" in write_report(exp)["md"].read_text()
