"""Load benchmark of ``ssrec serve`` (not a test): requests/s and latency percentiles.

For each index (exact, HNSW) a server is started as its own process (``ssrec serve EXPORT
--index KIND --port 0``) on the loopback interface, and a load generator in this process sends:

* ``--requests`` single-user requests (``GET /recommend?user=U&k=K``, users drawn uniformly
  with a fixed seed) over ``--concurrency`` keep-alive connections, after ``--warmup``
  untimed ones: requests/s and p50/p95/p99/max latency (client-measured, send to last byte);
* ``--batch-requests`` batched requests (``POST /recommend`` with ``--batch-size`` users each)
  over ``--batch-concurrency`` connections: users/s and the latency of a batch;
* ``GET /health`` at the same concurrency: the HTTP stack's own ceiling on this machine.

Where the time goes: the same top-K queries timed in-process on the engine (no HTTP) for a
single user and for blocks of 16 and 256 users.

The load generator is a minimal HTTP/1.1 keep-alive client on asyncio (uvloop when installed)
so that its own CPU use stays small: on 2 cores it shares the machine with the server. Every
loop is bounded by its count and by ``--timeout`` seconds; the benchmark stops by itself and
stops its servers.

Usage::

    ssrec train --model LightGCN --dataset gowalla-valid --epochs 1 --set model.n_layers=2 \\
        --out runs/bench-lightgcn-gowalla
    ssrec export runs/bench-lightgcn-gowalla --out runs/bench-lightgcn-gowalla-export
    python benchmarks/serving.py --export runs/bench-lightgcn-gowalla-export

Results: ``benchmarks/results/serving.json`` and ``docs/serving.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ssrec.utils.io import atomic_write_json, atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "serving.json"
DOC = ROOT / "docs" / "serving.md"
NOTES = "<!-- notes below are kept when benchmarks/serving.py rewrites this page -->"


# ---- a small keep-alive HTTP/1.1 client ------------------------------------------------------


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _worker(host: str, port: int, requests: list[bytes], lat: list[float],
                  errors: list[str]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for req in requests:
            t0 = time.perf_counter()
            writer.write(req)
            status, body = await _read_response(reader)
            lat.append(time.perf_counter() - t0)
            if status != 200:
                errors.append(f"{status} {body[:200]!r}")
    finally:
        writer.close()


def _get(host: str, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


def _post(host: str, path: str, obj: object) -> bytes:
    body = json.dumps(obj).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def load(host: str, port: int, requests: list[bytes], concurrency: int, timeout: float
         ) -> dict[str, float]:
    """Send ``requests`` over ``concurrency`` connections (request ``i`` on connection
    ``i % concurrency``); returns throughput and latency percentiles in ms."""
    lat: list[float] = []
    errors: list[str] = []
    shares = [requests[i::concurrency] for i in range(concurrency)]

    async def main() -> float:
        t0 = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(
            _worker(host, port, s, lat, errors) for s in shares if s)), timeout)
        return time.perf_counter() - t0

    cpu0 = time.process_time()
    try:
        import uvloop

        seconds = uvloop.run(main())
    except ImportError:
        seconds = asyncio.run(main())
    client_cpu = time.process_time() - cpu0
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, e.g. {errors[0]}")
    ms = np.asarray(lat) * 1e3
    return {"requests": len(lat), "seconds": round(seconds, 3),
            "requests_per_s": round(len(lat) / seconds, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "max_ms": round(float(ms.max()), 2), "mean_ms": round(float(ms.mean()), 2),
            "client_cpu_ms_per_request": round(client_cpu / max(len(lat), 1) * 1e3, 3)}


# ---- the server process ------------------------------------------------------------------------


class Server:
    """``ssrec serve EXPORT --index KIND --port 0`` as a child process."""

    def __init__(self, export: Path, index: str, timeout: float):
        self.proc = subprocess.Popen([sys.executable, "-m", "ssrec", "serve", str(export),
                                      "--index", index, "--port", "0"],
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + timeout
        line = ""
        while "http://" not in line:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"ssrec serve did not start: {line}")
            line = self.proc.stderr.readline()
        m = re.search(r"http://([\d.]+):(\d+)", line)
        self.host, self.port = m.group(1), int(m.group(2))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _timed(server: Server, fn, *args) -> dict:
    """``fn(*args)`` plus the server process's CPU time per request (user + system, all
    threads), a figure that does not depend on what else the machine runs."""
    import psutil

    proc = psutil.Process(server.proc.pid)
    t0 = sum(proc.cpu_times()[:2])
    out = fn(*args)
    out["server_cpu_ms_per_request"] = round(
        (sum(proc.cpu_times()[:2]) - t0) / max(out["requests"], 1) * 1e3, 3)
    return out


def info(host: str, port: int) -> dict:
    import urllib.request

    with urllib.request.urlopen(f"http://{host}:{port}/info", timeout=30) as r:
        return json.loads(r.read())


# ---- the measurements --------------------------------------------------------------------------


def engine_timings(export: Path, index: str, k: int, seed: int) -> dict[str, float]:
    """Top-``k`` queries timed on the engine itself (no HTTP): ms per call for 1, 16 and 256
    users (median of repeated calls)."""
    from ssrec.serving import Engine, load_export
    from ssrec.serving.index import tune_for_serving

    tune_for_serving()  # as `ssrec serve` runs
    engine = Engine(load_export(export), index=index)
    rng = np.random.default_rng(seed)
    out = {}
    for b, reps in ((1, 300), (16, 60), (256, 8)):
        times = []
        for _ in range(reps):
            rows = rng.integers(0, engine.art.users.shape[0], size=b)
            t0 = time.perf_counter()
            engine.recommend_rows(rows, k)
            times.append(time.perf_counter() - t0)
        out[f"ms_per_call_{b}_users"] = round(statistics.median(times) * 1e3, 3)
    return out


def measure(args: argparse.Namespace, index: str) -> dict:
    from ssrec.serving import load_export

    users = load_export(args.export).user_ids.raw_ids
    rng = np.random.default_rng(args.seed)
    server = Server(args.export, index, args.timeout)
    try:
        h, p = server.host, server.port
        pick = users[rng.integers(0, users.size, size=args.warmup + args.requests)]
        reqs = [_get(h, f"/recommend?user={u}&k={args.k}") for u in pick.tolist()]
        load(h, p, reqs[:args.warmup], args.concurrency, args.timeout)
        single = _timed(server, load, h, p, reqs[args.warmup:], args.concurrency, args.timeout)
        batches = [_post(h, "/recommend", {"users": users[rng.integers(
            0, users.size, size=args.batch_size)].tolist(), "k": args.k})
            for _ in range(args.batch_requests)]
        load(h, p, batches[:2], args.batch_concurrency, args.timeout)
        batched = _timed(server, load, h, p, batches, args.batch_concurrency, args.timeout)
        batched["users_per_s"] = round(batched["requests_per_s"] * args.batch_size, 1)
        health = _timed(server, load, h, p, [_get(h, "/health")] * min(args.requests, 5000),
                        args.concurrency, args.timeout)
        served = info(h, p)
    finally:
        server.stop()
    return {"index": index, "index_info": served["index"], "single": single,
            "batched": batched, "health": health,
            "engine": engine_timings(args.export, index, args.k, args.seed)}


def render(rep: dict) -> str:
    c = rep["config"]
    rows = rep["runs"]
    lines = [
        "# Serving: load figures",
        "",
        (f"`python benchmarks/serving.py --export {c['export']}` "
        f"({rep['created']}; {rep['machine']}). The server (`ssrec serve EXPORT --index KIND`) "
        "and the load generator share the machine's cores; the load generator is a minimal "
        "keep-alive HTTP/1.1 client on asyncio, latency measured by it from sending a request "
        "to reading the last byte of the answer."),
        "",
        (f"Model: {rep['model']} on {rep['dataset']} ({rep['n_users']:,} users, "
        f"{rep['n_items']:,} items, dimension {rep['dim']}); the weights' quality does not "
        "matter for latency."),
        (f"Machine load average before the run: {rep['loadavg_before']} (1, 5, 15 min), "
        f"after: {rep['loadavg_after']}."),
        "",
        (f"## Single-user requests: `GET /recommend?user=U&k={c['k']}`, "
        f"{c['requests']:,} requests at concurrency {c['concurrency']}"),
        "",
        "| index | requests/s | p50 ms | p95 ms | p99 ms | max ms | recall@20 vs exact |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        s = r["single"]
        rec = r["index_info"].get("recall@20")
        lines.append(f"| {r['index']} | {s['requests_per_s']:,.0f} | {s['p50_ms']} | "
                     f"{s['p95_ms']} | {s['p99_ms']} | {s['max_ms']} | "
                     f"{'1 (exact)' if rec is None else rec} |")
    lines += [
        "",
        (f"## Batched requests: `POST /recommend` with {c['batch_size']} users, "
        f"{c['batch_requests']} requests at concurrency {c['batch_concurrency']}"),
        "",
        "| index | users/s | requests/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        b = r["batched"]
        lines.append(f"| {r['index']} | {b['users_per_s']:,.0f} | {b['requests_per_s']:,.1f} | "
                     f"{b['p50_ms']} | {b['p99_ms']} |")
    lines += [
        "",
        "## Where the time goes",
        "",
        (f"`GET /health` (no work) at concurrency {c['concurrency']}, and the top-{c['k']} "
        "query timed on the engine in-process (no HTTP; median ms per call):"),
        "",
        ("| index | /health requests/s | /health p99 ms | engine 1 user | engine 16 users | "
        "engine 256 users |"),
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        e, h = r["engine"], r["health"]
        lines.append(f"| {r['index']} | {h['requests_per_s']:,.0f} | {h['p99_ms']} | "
                     f"{e['ms_per_call_1_users']} | {e['ms_per_call_16_users']} | "
                     f"{e['ms_per_call_256_users']} |")
    lines += [
        "",
        ("CPU time per request (user + system; independent of what else the machine runs): "
        "the server process, all its threads, and this load generator:"),
        "",
        ("| index | single: server ms | single: client ms | /health: server ms | "
        f"batch of {c['batch_size']}: server ms |"),
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        s_, h, b = r["single"], r["health"], r["batched"]
        lines.append(f"| {r['index']} | {s_['server_cpu_ms_per_request']} | "
                     f"{s_['client_cpu_ms_per_request']} | {h['server_cpu_ms_per_request']} | "
                     f"{b['server_cpu_ms_per_request']} |")
    for r in rows:
        if r["index"] != "exact":
            i = r["index_info"]
            lines += ["", (f"{r['index']} index: {i.get('params')}; recall@20 against exact "
                      f"{i.get('recall@20')} ({i.get('recall@20_excluding_history')} with the "
                      f"users' histories excluded, over-fetch and exact fallback included) on "
                      f"{i.get('users_measured')} users; built in {i.get('build_seconds')} s.")]
    lines += ["", "## Targets (issue 15) and verdict", "", rep.get("verdict", ""), ""]
    return "\n".join(lines)


def verdict(rep: dict) -> str:
    exact = next(r for r in rep["runs"] if r["index"] == "exact")
    p99 = exact["single"]["p99_ms"]
    ups = exact["batched"]["users_per_s"]
    others = "; ".join(f"{r['index']}: p99 {r['single']['p99_ms']} ms, "
                       f"{r['batched']['users_per_s']:,.0f} users/s"
                       for r in rep["runs"] if r["index"] != "exact")
    c = rep["config"]
    return (f"* single-user top-{c['k']} p99 <= 20 ms at concurrency {c['concurrency']} with "
            f"the exact index: **{p99} ms, {'reached' if p99 <= 20 else 'not reached'}** "
            f"on this run;\n"
            f"* >= 1,000 users/s with batched requests (exact index): **{ups:,.0f} users/s, "
            f"{'reached' if ups >= 1000 else 'not reached'}**"
            + (f";\n* approximate: {others}." if others else "."))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--export", type=Path, required=True, help="a folder from `ssrec export`")
    p.add_argument("--indexes", nargs="+", default=["exact", "hnsw"])
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("--warmup", type=int, default=1_000)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--k", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--batch-requests", type=int, default=100)
    p.add_argument("--batch-concurrency", type=int, default=2)
    p.add_argument("--seed", type=int, default=2020)
    p.add_argument("--timeout", type=float, default=300, help="seconds per phase")
    p.add_argument("--no-doc", action="store_true", help="only the JSON")
    args = p.parse_args()
    man = json.loads((args.export / "manifest.json").read_text())
    rep = {"created": time.strftime("%Y-%m-%d %H:%M"),
           "machine": f"{os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}",
           "loadavg_before": [round(x, 2) for x in os.getloadavg()],
           "config": {**{k: v for k, v in vars(args).items() if k != "export"},
                      "export": str(args.export)},
           "model": man["model"]["name"], "dataset": man["dataset"],
           "n_users": man["users"]["count"], "n_items": man["items"]["count"],
           "dim": man["items"]["dim"], "runs": []}
    for index in args.indexes:
        r = measure(args, index)
        print(f"{index}: {json.dumps(r)}", flush=True)
        rep["runs"].append(r)
    rep["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    rep["verdict"] = verdict(rep)
    atomic_write_json(RESULTS, rep)
    if not args.no_doc:
        old = DOC.read_text() if DOC.is_file() else ""
        notes = old[old.index(NOTES):] if NOTES in old else NOTES + "\n"
        atomic_write_text(DOC, render(rep) + "\n" + notes)
    print(rep["verdict"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
