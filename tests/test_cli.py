from __future__ import annotations

import json

import pytest

from conftest import require_dataset
from ssrec.cli import main


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_models_lists_every_registered_model(capsys):
    from ssrec.models import MODELS

    code, out, _ = run_cli(capsys, "models", "--json")
    assert code == 0
    names = [r["name"] for r in json.loads(out)]
    assert names == MODELS.names()
    assert {"MostPop", "MF", "LightGCN", "SimGCL", "XSimGCL"} <= set(names)


@pytest.mark.parametrize("args, fragment", [
    (("train", "--model", "Nope"), "unknown model 'Nope'"),
    (("train", "--set", "train.epochz=3"), "did you mean 'train.epochs'"),
    (("train", "--set", "trian.lr=0.1"), "--set trian.lr=0.1: unknown key 'trian'"),
    (("data", "describe", "no-such-dataset"), "neither a registered dataset"),
    (("evaluate", "/no/such/run"), "config.yaml not found"),
])
def test_user_errors_exit_2_with_one_line(capsys, args, fragment):
    code, out, err = run_cli(capsys, *args)
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("ssrec: error:")]
    assert len(lines) == 1 and fragment in lines[0]
    assert "Traceback" not in err


def test_malformed_file_error_names_line(tmp_path, capsys):
    p = tmp_path / "x.txt"
    p.write_text("u1 i1 5\nu2 i2 oops\n")
    code, _, err = run_cli(capsys, "data", "describe", str(p))
    assert code == 2 and f"{p}, line 2: rating 'oops' is not a number" in err


def test_train_evaluate_recommend(planted_dir, tmp_path, capsys):
    out_dir = tmp_path / "run"
    code, out, _ = run_cli(capsys, "train", "--model", "LightGCN", "--dataset", str(planted_dir),
                           "--epochs", "3", "--out", str(out_dir), "--no-progress", "--json")
    assert code == 0
    res = json.loads(out)
    stored = json.loads((out_dir / "results.json").read_text())
    assert res["test"] == stored["test"]
    code, out, _ = run_cli(capsys, "evaluate", str(out_dir), "--json", "--split", "test")
    assert code == 0
    assert json.loads(out)["test"] == pytest.approx(stored["test"], abs=1e-12)
    code, out, _ = run_cli(capsys, "evaluate", str(out_dir), "--split", "test")
    assert out.splitlines()[0].startswith("protocol: full ranking over") and "masked" in out
    code, out, _ = run_cli(capsys, "recommend", str(out_dir), "--user", "u3", "-k", "5",
                           "--json")
    assert code == 0
    rec = json.loads(out)
    assert len(rec["items"]) == 5 and all(i.startswith("i") for i in rec["items"])
    train_items = {line.split()[1] for line in (planted_dir / "train.txt").read_text().splitlines()
                   if line.split()[0] == "u3"}
    assert not train_items & set(rec["items"])
    code, _, err = run_cli(capsys, "recommend", str(out_dir), "--user", "nobody")
    assert code == 2 and "unknown user 'nobody'" in err
    # the finished run is not overwritten by accident
    again = ("train", "--model", "MF", "--dataset", str(planted_dir), "--epochs", "2",
             "--out", str(out_dir), "--no-progress", "--json")
    code, _, err = run_cli(capsys, *again)
    assert code == 2 and "already holds a run" in err
    assert json.loads((out_dir / "results.json").read_text()) == stored
    code, out, _ = run_cli(capsys, *again, "--overwrite")
    assert code == 0
    assert "name: MF" in (out_dir / "config.yaml").read_text()
    mode = (out_dir / "results.json").stat().st_mode & 0o777
    assert mode & 0o044, oct(mode)  # readable by others (umask permitting), not mkstemp's 0600


def test_describe_gowalla_json(data_dir, capsys):
    require_dataset(data_dir, "gowalla")
    code, out, _ = run_cli(capsys, "data", "describe", "gowalla", "--json", "--data-dir",
                           str(data_dir))
    d = json.loads(out)
    assert code == 0
    assert (d["users"], d["items"]) == (29858, 40981)
    assert (d["train"]["interactions"], d["test"]["interactions"]) == (810128, 217242)
