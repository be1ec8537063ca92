from __future__ import annotations

import json

import pytest
import yaml

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
                           "--set", "train.lr=1e38", "model.l2_reg=1e38")  # two in one
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


OK_TXT = b"u01 i9\r\nu01\ti7\r\n\r\n007 i9  \r\n7 i3\r\n"


def test_describe_a_small_file_whose_split_is_impossible(tmp_path, capsys):
    # issue 20.10: refused with "the test split is empty..."
    p = tmp_path / "ok.txt"
    p.write_bytes(OK_TXT)
    code, out, err = run_cli(capsys, "data", "describe", str(p))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"{p}: 3 users, 3 items in training"
    assert lines[1] == "read: 4 rows, 3 users, 3 items"  # raw counts in the text output too
    assert lines[2] == f"  all: {p}: 4 rows; pairs, whitespace-separated, no header (user, item)"
    assert lines[3].startswith("split for general, graph, social, knowledge and "
                               "multi-behaviour models: per-user random "
                               "0.8/0.1/0.1")
    assert lines[4].startswith("split for sequential models (describe them with --model "
                               "SASRec): leave-one-out")
    assert f"warning: {p}: the ratio split leaves no test interaction (too few interactions " \
           "per user): no model can be tested with this split" in lines
    why = ("(3 with none in the split: too few events, e.g. 1-2 under leave-one-out, or none "
           "in a given file; 0 whose target was dropped as cold)")
    assert f"note: {p}: users without a test target: 3 of 3 {why}; without a validation " \
           f"target: 3 of 3 {why}; they are not scored there" in lines
    code, out, _ = run_cli(capsys, "data", "describe", str(p), "--json")
    d = json.loads(out)
    assert d["report"]["read"] == {"rows": 4, "users": 3, "items": 3}
    assert d["report"]["users_without_target"] == {"test": 3, "valid": 3}
    assert d["described_for"] == "general, graph, social, knowledge and multi-behaviour models"
    assert set(d["split_by_family"]) == {
        "general, graph, social, knowledge and multi-behaviour models",
        "sequential models (describe them with --model SASRec)"}


def test_describe_for_a_sequential_model_uses_its_split(tmp_path, capsys):
    p = tmp_path / "rep.tsv"
    p.write_text("".join(f"u{u}\t{i}\t1\t{t}\n" for u, seq in
                         enumerate(["abca", "abcb", "cabc"], 1) for t, i in enumerate(seq, 1)))
    code, out, _ = run_cli(capsys, "data", "describe", str(p), "--model", "SASRec")
    assert code == 0
    assert ("split for SASRec (sequential model): leave-one-out (each user's last event is the "
            "test target); validation: the event before the test target; repeated events kept "
            "in time order") in out
    assert "shown below (SASRec (sequential model)): split loo; validation: from the loo split" \
        in out
    assert "repeated events kept: 3" in out
    assert "test                 3         3         3" in out


def test_train_help_names_the_defaults_and_valid_ratio_zero(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "Without options this trains SimGCL on lastfm" in out
    assert "--set data.valid_ratio=0 trains on all training data" in out
    assert "no early stopping" in out


def test_model_option_and_set_model_name_must_agree(capsys):
    code, _, err = run_cli(capsys, "train", "--model", "SASRec", "--set", "model.name=LightGCN")
    assert code == 2
    assert err.strip() == ("ssrec: error: --set model.name=LightGCN contradicts the command-line "
                           "option that sets model.name to 'SASRec'; give the value once")


def test_config_lists_every_key_with_its_default(tmp_path, capsys):
    import yaml

    from ssrec.config import load_config
    from ssrec.models import resolved_config

    code, out, _ = run_cli(capsys, "config")
    assert code == 0
    assert "\ntrain:\n  epochs: 300  # (default: 100) maximum number of epochs" in out
    assert "\n  lr: 0.001  # Adam learning rate\n" in out
    assert "\nmodel:\n  name: SimGCL  # the model" in out and "\n  eps: 0.1  # " in out
    assert "\n  valid_ratio: 0.1  # share of each user's training interactions held out for " \
           "validation when the data has no validation split (0 disables validation: no " \
           "early stopping)\n" in out
    dumped = tmp_path / "all.yaml"
    dumped.write_text(out)  # the listing is a config file that loads back to the same config
    assert resolved_config(load_config(dumped)) == resolved_config(load_config(None))
    code, out, _ = run_cli(capsys, "config", "--model", "SASRec", "--json")
    ref = json.loads(out)
    assert [r["key"] for r in ref["model"]][:2] == ["name", "embedding_dim"]
    assert {r["key"]: r["value"] for r in ref["model"]}["max_len"] == 50
    assert set(ref) == {"", "data", "train", "eval", "model"}
    assert yaml.safe_load("x: 1") == {"x": 1}


def test_final_results_once_and_reloads_repeat_no_data_warning(tmp_path, capsys):
    d = tmp_path / "cold"
    d.mkdir()
    (d / "train.txt").write_text("".join(f"u{u} i{(u + k) % 8}\n" for u in range(12)
                                         for k in range(6)))
    (d / "test.txt").write_text("".join(f"u{u} i{(u + 6) % 8}\n" for u in range(12)) +
                                "u1 never_in_train\n")
    out_dir = tmp_path / "run"
    code, out, err = run_cli(capsys, "train", "--model", "MF", "--dataset", str(d), "--epochs",
                             "2", "--out", str(out_dir))
    assert code == 0
    assert (out + err).count("test recall@10") == 1  # printed once, not logged as well
    assert "dropped 1 test interactions" in err
    assert "batch/s" not in err  # no progress bar when stderr is not a terminal
    assert "| train " in err and " + valid " in err  # the epoch line has validation seconds
    proto = json.loads((out_dir / "results.json").read_text())["protocol"]
    assert proto["users_without_target"] == {"test": 0, "valid": 0}
    assert proto["data_notes"] == [] and proto["repeats_kept"] is None
    for args in (("evaluate", str(out_dir)), ("recommend", str(out_dir), "--user", "u1")):
        code, _, err = run_cli(capsys, *args)
        assert code == 0 and err == ""  # said once, when the run trained


def test_train_threads_option_sets_num_threads(planted_dir, tmp_path, capsys):
    out = tmp_path / "threads"
    args = ("train", "--model", "MF", "--dataset", str(planted_dir), "--epochs", "1",
            "--out", str(out), "--no-progress", "--json")
    assert run_cli(capsys, *args, "--threads", "1")[0] == 0
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["num_threads"] == 1
    code, _, err = run_cli(capsys, *args, "--overwrite", "--threads", "0")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "num_threads" in err
