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
    (("train", "--seed", "-1"), "option seed: seed: Input should be greater than or equal to 0"),
    (("train", "--seed", str(2**64 + 1)), "less than or equal to 9223372036854775807"),
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


def test_config_with_a_non_utf8_byte_is_one_error_line(tmp_path, capsys):
    p = tmp_path / "latin1.yaml"
    p.write_bytes(b"train:\n  epochs: 3\n# caf\xe9\n")
    code, _, err = run_cli(capsys, "train", "--config", str(p))
    assert code == 2 and "Traceback" not in err
    assert err.strip() == (f"ssrec: error: {p}:3: not UTF-8 text (byte 0xe9 at offset 24); "
                           "save the file as UTF-8")


def test_diverging_training_is_one_error_line_and_leaves_no_run(planted_dir, tmp_path, capsys):
    out = tmp_path / "div"
    code, _, err = run_cli(capsys, "train", "--model", "MF", "--dataset", str(planted_dir),
                           "--epochs", "2", "--out", str(out), "--no-progress",
                           "--set", "train.lr=1e38", "--set", "model.l2_reg=1e38")
    assert code == 2 and "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("ssrec: error:")]
    assert errors == ["ssrec: error: the optimiser step overflowed in epoch 1, batch 1 (value "
                      "cannot be converted to type float without overflow); lower train.lr "
                      "(now 1e+38)"]
    assert not out.exists()  # no config.yaml and empty log.jsonl left behind
    # diverging after a completed epoch: the log keeps the epoch and says why it stopped
    code, _, err = run_cli(capsys, "train", "--model", "MF", "--dataset", str(planted_dir),
                           "--epochs", "3", "--out", str(out), "--no-progress",
                           "--set", "train.lr=1e30")
    assert code == 2 and "non-finite loss in epoch 2" in err
    assert sorted(p.name for p in out.iterdir()) == ["log.jsonl"]
    lines = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert [x.get("epoch") for x in lines] == [1, None]
    assert lines[-1]["event"] == "failed" and "non-finite loss in epoch 2" in lines[-1]["error"]
    code, _, err = run_cli(capsys, "evaluate", str(out))  # not mistaken for a run
    assert code == 2 and "config.yaml not found" in err


def test_closed_output_pipe_is_one_error_line(monkeypatch, capsys):
    class Closed:
        def write(self, s):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("sys.stdout", Closed())
    code = main(["models"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == "ssrec: error: the output was closed before it was all written (broken pipe)\n"


def test_resume_after_a_killed_first_save_says_so_and_cleans(planted_dir, tmp_path, capsys):
    out = tmp_path / "killed"
    args = ("train", "--model", "MF", "--dataset", str(planted_dir), "--epochs", "1",
            "--out", str(out), "--no-progress", "--json")
    assert run_cli(capsys, *args)[0] == 0
    (out / "last.pt").rename(out / ".last.pt.k1ll3d.tmp")  # killed before the rename
    (out / "results.json").unlink()
    code, _, err = run_cli(capsys, *args, "--resume")
    assert code == 0
    msgs = err.splitlines()
    assert (f"{out}: removed the unfinished temporary file(s) of last.pt (the run was killed "
            "while saving)") in msgs
    assert (f"--resume: {out} holds no last.pt (its first save was interrupted), so training "
            "starts from epoch 1") in msgs
    assert not list(out.glob(".*.tmp")) and (out / "last.pt").is_file()
