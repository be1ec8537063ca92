"""Helpers of the serving tests: tiny trained runs and their exports, a server on a free
loopback port, the evaluator's top-K. (Not a conftest.py: the root conftest is imported by
name elsewhere.)"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

from ssrec.config import load_config
from ssrec.evaluation import Evaluator
from ssrec.serving import Engine, from_run, write_export
from ssrec.training import run
from ssrec.training.run import load_run


def train(dataset: Path, out: Path, model: str, epochs: int, *extra: str) -> Path:
    run(load_config(None, [f"model.name={model}", f"data.dataset={dataset}",
                           f"train.epochs={epochs}", "train.progress=false",
                           f"output_dir={out}", *extra]))
    return out


def served_runs(base: Path, planted_dir: Path, planted_seq_file: Path) -> dict[str, tuple[Path, Path]]:
    """``{label: (run_dir, export_dir)}`` for a graph model, MF and a sequential model, each
    trained for a few epochs on a planted dataset (seconds) and exported (exact index only,
    except LightGCN, whose export also holds HNSW and IVF)."""
    out = {}
    for label, data, model, epochs, extra, ann in (
            ("LightGCN", planted_dir, "LightGCN", 5, (), ("hnsw", "ivf")),
            ("MF", planted_dir, "MF", 5, (), ()),
            ("SASRec", planted_seq_file, "SASRec", 8, ("data.split=loo",), ())):
        run_dir = train(data, base / label, model, epochs, *extra)
        export = base / f"{label}-export"
        write_export(from_run(load_run(run_dir)), export, ann=ann)
        out[label] = (run_dir, export)
    return out


@contextmanager
def serving(engine: Engine):
    """A uvicorn server for ``engine`` on a free 127.0.0.1 port, in a thread; yields an
    ``httpx.Client`` whose base URL points at it."""
    import uvicorn

    from ssrec.serving.app import bind, create_app

    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(engine), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def evaluator_top(loaded, k: int, exclude_seen: bool, mask=None, history: str | None = None
                  ) -> dict[str, list[str]]:
    """The evaluator's top-``k`` raw item ids of every test user (raw id -> list), with
    ``exclude_seen`` (and, when given, ``mask`` as the masked items instead of the protocol's),
    and for a sequential model the input history ``history`` instead of the test split's."""
    data, model = loaded.data, loaded.model
    ev = Evaluator(data, "test", ks=[k], exclude_seen=exclude_seen)
    if mask is not None:
        ev.mask = mask
    if history is not None:  # the evaluator asks the model for the split's input
        model.on_eval_start = lambda split: setattr(model, "_history",
                                                    data.sequences.history(history))
    try:
        out = {}
        for _, users, top, _ in ev.ranked_blocks(model, k):
            for u, row in zip(data.users.to_raw(users).tolist(), top.cpu().numpy()):
                out[u] = data.items.to_raw(row).tolist()
        return out
    finally:
        if history is not None:
            del model.on_eval_start  # the class's method again


def raw_history(loaded, user: str, split: str) -> list[str]:
    """The raw item ids of a user's sequential input for ``split`` ("test": the evaluator's
    test input; "all": the whole history), oldest first."""
    data = loaded.data
    row = data.sequences.history(split).row(data.users.index(user))
    return data.items.to_raw(row).tolist()


__all__ = ["evaluator_top", "raw_history", "served_runs", "serving", "train"]
