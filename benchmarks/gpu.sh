#!/usr/bin/env bash
# CUDA readiness check for ssrec (issue 18, item 4), prepared to run once on a GPU machine in
# under 10 minutes:
#   1. the model conformance suite on CUDA (SSREC_TEST_DEVICE=cuda): every registered model
#      builds, takes a finite training step with gradients, scores, round-trips its weights
#      and beats random on planted data, on the GPU;
#   2. gowalla LightGCN and SimGCL: seconds per training epoch (1 warm-up, then the median of
#      2) and of one full-ranking evaluation of the test split, peak GPU memory;
#   3. with 2 or more GPUs: `torchrun --nproc_per_node 2 -m ssrec train` (NCCL) on gowalla,
#      its epoch seconds and test metrics.
# Results: JSON files in the folder given as $1, else $OUT, else benchmarks/results/gpu:
#   env.json, conformance.json and gpu_tests.json (the tests marked gpu; each with its .xml
#   and .log), timings.json, ddp.json (or a "skipped" reason), summary.json.
# Needs a CUDA build of torch, the package's test extras (pytest) and the datasets: the data
# directory is $SSREC_DATA_DIR, else shared/data or ../shared/data next to the repository.
# Without a CUDA device it says so and exits 0, writing nothing else.
#
# Usage: bash benchmarks/gpu.sh [OUT_DIR]      (PYTHON=/path/to/python to choose the interpreter)
set -uo pipefail

cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
DEST="${1:-${OUT:-benchmarks/results/gpu}}"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
START=$(date +%s)

if ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "benchmarks/gpu.sh: no CUDA device is visible to torch ($("$PY" -c 'import torch; print("torch", torch.__version__, "built for CUDA", torch.version.cuda)' 2>&1 | tail -1)); nothing to check on this machine" >&2
    exit 0
fi
mkdir -p "$DEST"
if [ -z "${SSREC_DATA_DIR:-}" ]; then
    for d in shared/data ../shared/data; do
        [ -d "$d/gowalla" ] && export SSREC_DATA_DIR="$PWD/$d" && break
    done
fi
# deterministic cuBLAS (train.deterministic is on by default; without this cuBLAS only warns)
export CUBLAS_WORKSPACE_CONFIG="${CUBLAS_WORKSPACE_CONFIG:-:4096:8}"
elapsed() { echo $(( $(date +%s) - START )); }

# -- 0. environment ------------------------------------------------------------------------
"$PY" - "$DEST/env.json" <<'EOF'
import json, os, platform, subprocess, sys
import torch
info = {"torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version(),
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "memory_gib": [round(torch.cuda.get_device_properties(i).total_memory / 2**30, 1)
                       for i in range(torch.cuda.device_count())],
        "data_dir": os.environ.get("SSREC_DATA_DIR")}
try:
    info["nvidia_smi"] = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                                         "--format=csv,noheader"], capture_output=True, text=True,
                                        timeout=20).stdout.strip()
except (OSError, subprocess.TimeoutExpired) as exc:
    info["nvidia_smi"] = f"unavailable ({exc})"
json.dump(info, open(sys.argv[1], "w"), indent=2)
print("env:", json.dumps(info))
EOF

# -- 1. conformance suite on CUDA, and the tests marked gpu ---------------------------------
junit_json() {  # junit_json NAME EXIT_CODE: $DEST/NAME.xml -> $DEST/NAME.json
"$PY" - "$DEST" "$2" "$1" <<'EOF'
import json, sys
from pathlib import Path
import xml.etree.ElementTree as ET
dest, rc, name = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
out = {"exit_code": rc, "timed_out": rc == 124, "failed": []}
try:
    suite = ET.parse(dest / f"{name}.xml").getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    for key in ("tests", "failures", "errors", "skipped", "time"):
        out[key] = float(suite.get(key, 0)) if key == "time" else int(suite.get(key, 0))
    for case in suite.iter("testcase"):
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        if bad is not None:
            out["failed"].append({"test": case.get("name"),
                                  "message": (bad.get("message") or "")[:300]})
except (OSError, ET.ParseError) as exc:
    out["report"] = f"no JUnit report ({exc})"
json.dump(out, open(dest / f"{name}.json", "w"), indent=2)
print(f"{name}:", {k: v for k, v in out.items() if k != "failed"},
      "failed:", [f["test"] for f in out["failed"]])
EOF
}
echo "== conformance tests on CUDA (at most 240 s; t=$(elapsed) s)"
SSREC_TEST_DEVICE=cuda timeout 240 "$PY" -m pytest -q -p no:cacheprovider \
    tests/models/test_conformance.py --junitxml="$DEST/conformance.xml" \
    > "$DEST/conformance.log" 2>&1
junit_json conformance $?
echo "== tests marked gpu (at most 60 s; t=$(elapsed) s)"
timeout 60 "$PY" -m pytest -q -p no:cacheprovider -m gpu tests \
    --junitxml="$DEST/gpu_tests.xml" > "$DEST/gpu_tests.log" 2>&1
junit_json gpu_tests $?

# -- 2. gowalla epoch and full-ranking timings ---------------------------------------------
echo "== gowalla LightGCN / SimGCL timings on cuda:0 (at most 200 s; t=$(elapsed) s)"
timeout 200 "$PY" - "$DEST/timings.json" <<'EOF'
import json, statistics, sys, time
import torch
from ssrec.config import load_config
from ssrec.data import load_dataset
from ssrec.training import Trainer
from ssrec.training.run import build_model, resolve_data_needs
from ssrec.utils.perf import deterministic_kernels

path = sys.argv[1]
dev = torch.device("cuda", 0)
out = {"device": torch.cuda.get_device_name(0), "dataset": "gowalla", "models": {}}

def sync_time(fn):
    torch.cuda.synchronize(dev)
    t = time.perf_counter()
    fn()
    torch.cuda.synchronize(dev)
    return time.perf_counter() - t

data = None
for name in ("LightGCN", "SimGCL"):
    try:
        cfg = resolve_data_needs(load_config(None, ["train.progress=false"], **{
            "model.name": name, "data.dataset": "gowalla", "device": "cuda"}))
        if data is None:
            t0 = time.perf_counter()
            data = load_dataset(cfg.data, seed=cfg.seed)
            out["load_seconds"] = round(time.perf_counter() - t0, 2)
            out["shape"] = {"users": data.n_users, "items": data.n_items,
                            "train": len(data.train)}
        model = build_model(cfg, data)
        trainer = Trainer(model, data, cfg.train, cfg.eval, seed=cfg.seed, device=dev)
        torch.cuda.reset_peak_memory_stats(dev)
        with deterministic_kernels(cfg.train.deterministic):  # as a run trains
            model.on_fit_start(trainer._ctx(0))
            warm = sync_time(lambda: trainer.train_epoch(1))
            epochs = [sync_time(lambda e=e: trainer.train_epoch(e)) for e in (2, 3)]
        evals = [sync_time(lambda: trainer.test_eval.evaluate(model)) for _ in range(2)]
        metrics = trainer.test_eval.evaluate(model)
        out["models"][name] = {
            "batch_size": cfg.train.batch_size, "batches_per_epoch": len(trainer.sampler),
            "deterministic": cfg.train.deterministic,
            "warmup_epoch_seconds": round(warm, 3),
            "epoch_seconds": [round(x, 3) for x in epochs],
            "epoch_seconds_median": round(statistics.median(epochs), 3),
            "eval_seconds": [round(x, 3) for x in evals],
            "eval_users": trainer.test_eval.n_users,
            "test_ndcg@20_after_3_epochs": metrics.get("ndcg@20"),
            "peak_gpu_memory_mib": round(torch.cuda.max_memory_allocated(dev) / 2**20, 1)}
    except Exception as exc:  # record it and go on with the next model
        out["models"][name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    print(name, json.dumps(out["models"][name]), flush=True)
    json.dump(out, open(path, "w"), indent=2)
EOF
TIME_RC=$?
[ $TIME_RC -ne 0 ] && echo "timings: exit code $TIME_RC (124: timed out)"

# -- 3. DDP on 2 GPUs (NCCL) ---------------------------------------------------------------
NGPU=$("$PY" -c 'import torch; print(torch.cuda.device_count())')
if [ "$NGPU" -ge 2 ]; then
    echo "== DDP: torchrun --nproc_per_node 2, LightGCN on gowalla, 2 epochs (at most 150 s; t=$(elapsed) s)"
    PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    rm -rf "$DEST/ddp-run"
    timeout 150 "$PY" -m torch.distributed.run --nproc_per_node 2 --master_addr 127.0.0.1 \
        --master_port "$PORT" -m ssrec train --model LightGCN --dataset gowalla --epochs 2 \
        --device cuda --out "$DEST/ddp-run" --set train.progress=false --json \
        > "$DEST/ddp.log" 2>&1
    DDP_RC=$?
    tail -5 "$DEST/ddp.log"
    "$PY" - "$DEST" "$DDP_RC" <<'EOF'
import json, sys
from pathlib import Path
dest, rc = Path(sys.argv[1]), int(sys.argv[2])
out = {"exit_code": rc, "world_size": 2, "backend": "nccl"}
res = dest / "ddp-run" / "results.json"
if res.is_file():
    r = json.loads(res.read_text())
    out.update(test=r["test"], environment=r["environment"], seconds=r["seconds"])
    log = [json.loads(x) for x in (dest / "ddp-run" / "log.jsonl").read_text().splitlines()]
    out["epoch_seconds"] = [round(x["train_seconds"], 3) for x in log if "train_seconds" in x]
json.dump(out, open(dest / "ddp.json", "w"), indent=2)
print("ddp:", json.dumps(out))
EOF
else
    echo "{\"skipped\": \"$NGPU GPU(s): DDP needs 2\"}" > "$DEST/ddp.json"
    echo "== DDP skipped: $NGPU GPU(s)"
fi

"$PY" - "$DEST" "$(elapsed)" <<'EOF'
import json, sys
from pathlib import Path
dest = Path(sys.argv[1])
summary = {"seconds": int(sys.argv[2])}
for name in ("env", "conformance", "gpu_tests", "timings", "ddp"):
    p = dest / f"{name}.json"
    summary[name] = json.loads(p.read_text()) if p.is_file() else "missing"
json.dump(summary, open(dest / "summary.json", "w"), indent=2)
print(f"benchmarks/gpu.sh: done in {summary['seconds']} s; JSON in {dest}")
EOF
