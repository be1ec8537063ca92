"""The HTTP API (FastAPI; ``ssrec serve`` runs it with uvicorn).

Endpoints (raw ids are strings, as in the data files)::

    GET  /health                                   {"status": "ok"}
    GET  /info                                     model, dataset, protocol, metrics, index
    GET  /recommend?user=RAW&k=10&exclude_seen=    one user's top-k
    POST /recommend       {"users": [...], "k": 10, "exclude_seen": null}    a batch of users
    POST /recommend/history {"items": [...], "k": 10, "exclude_seen": null}  after a history
    GET  /similar-items?item=RAW&k=10              the item's nearest items

``exclude_seen`` left out (null) means the run's protocol default (``/info``'s
``exclude_seen_default``: True for embedding and graph models, False for sequential ones); true
leaves out the user's known items (train + valid + test), or the history's items.
``/recommend/history`` takes the items oldest first, latest last: a sequential model encodes the
last ``max_len`` of them; other models fold the history in as the mean of its items'
representations. A known sequential user's answer reads the user's whole history, latest
item included.

Errors: an unknown user or item → 404 ``{"detail": "unknown user 'x': ..."}``; ``k`` outside
``1..K_MAX``, more than ``MAX_USERS`` users or ``MAX_HISTORY`` items, a malformed or
unknown-field body → 422 ``{"detail": "<field>: <problem>", "errors": [...]}``. Bad input never
gives a 500.

Concurrent single-user requests are answered together: while one index search runs, the
requests that arrive queue and the next search takes them all (up to ``MAX_BATCH`` rows), so
a loaded server searches in batches without waiting on a timer.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

try:
    from fastapi import FastAPI, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import Response
    from pydantic import BaseModel, ConfigDict, Field
    from starlette.exceptions import HTTPException
except ImportError as exc:  # pragma: no cover - exercised by the CLI's message
    raise ImportError("ssrec's HTTP server needs FastAPI and uvicorn: "
                      "pip install 'ssrec[serve]'") from exc

import numpy as np

import ssrec
from ssrec.errors import SsrecError
from ssrec.serving.engine import Engine, UnknownId
from ssrec.serving.index import single_threaded_search

K_MAX = 1000  #: largest k
MAX_USERS = 1000  #: users per POST /recommend
MAX_HISTORY = 10_000  #: items per POST /recommend/history
MAX_BATCH = 256  #: single-user requests searched together


class BatchRequest(BaseModel):
    """``POST /recommend``: top-k for each user of a batch."""

    model_config = ConfigDict(extra="forbid")
    users: list[str] = Field(min_length=1, max_length=MAX_USERS,
                             description="raw user ids (strings)")
    k: int = Field(10, ge=1, le=K_MAX, description="items per user")
    exclude_seen: bool | None = Field(None, description="leave out known items; null: the "
                                      "run's default")


class HistoryRequest(BaseModel):
    """``POST /recommend/history``: top-k after a history of raw item ids, oldest first."""

    model_config = ConfigDict(extra="forbid")
    items: list[str] = Field(min_length=1, max_length=MAX_HISTORY,
                             description="raw item ids, oldest first, latest last")
    k: int = Field(10, ge=1, le=K_MAX)
    exclude_seen: bool | None = Field(None, description="leave out the history's items; "
                                      "null: the run's default")


class Recommendation(BaseModel):
    user: str | None = None
    items: list[str]
    scores: list[float]


class BatchResponse(BaseModel):
    k: int
    results: list[Recommendation]


class Error(BaseModel):
    detail: str


def _json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(obj, separators=(",", ":")), status_code=status,
                    media_type="application/json", headers=headers)


class _Batcher:
    """Coalesces concurrent single-user queries into one search on the worker thread."""

    def __init__(self, engine: Engine, executor: ThreadPoolExecutor, max_batch: int = MAX_BATCH):
        self.engine, self.executor, self.max_batch = engine, executor, max_batch
        self.queue: list[tuple[int, int, bool | None, asyncio.Future]] = []
        self.busy = False
        self.task: asyncio.Task | None = None  # (the loop keeps only a weak reference)

    async def __call__(self, row: int, k: int, exclude_seen: bool | None) -> Any:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self.queue.append((row, k, exclude_seen, fut))
        if not self.busy:
            self.busy = True
            self.task = loop.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.queue:
                batch, self.queue = self.queue[:self.max_batch], self.queue[self.max_batch:]
                rows = np.array([b[0] for b in batch], dtype=np.int64)
                ks = np.array([b[1] for b in batch], dtype=np.int64)
                flags = [b[2] for b in batch]
                try:
                    res = await loop.run_in_executor(self.executor, self.engine.recommend_rows,
                                                     rows, ks, flags)
                except Exception as exc:  # noqa: BLE001 - a bug: every waiter gets it (500)
                    for b in batch:
                        if not b[3].done():
                            b[3].set_exception(exc)
                    continue
                for b, r in zip(batch, res):
                    if not b[3].done():
                        b[3].set_result(r)
        finally:
            self.busy = False


def create_app(engine: Engine) -> FastAPI:
    """The FastAPI application serving ``engine`` (see the module docs)."""
    executor = ThreadPoolExecutor(1, thread_name_prefix="ssrec-search",
                                  initializer=single_threaded_search)
    batcher = _Batcher(engine, executor)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        executor.shutdown(wait=False, cancel_futures=True)

    info = engine.info()
    model = (info.get("model") or {}).get("name")
    app = FastAPI(title="ssrec", lifespan=lifespan,
                  description=f"Top-K recommendations of {model} on {info.get('dataset')}.",
                  version=ssrec.__version__)
    app.state.engine = engine

    async def run(fn, *args):
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)

    @app.exception_handler(UnknownId)
    async def _unknown(request: Request, exc: UnknownId) -> Response:
        return _json({"detail": str(exc)}, 404)

    @app.exception_handler(SsrecError)
    async def _bad(request: Request, exc: SsrecError) -> Response:
        return _json({"detail": str(exc)}, 422)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg")),
                   "type": str(e.get("type"))} for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:3])
        return _json({"detail": detail or "invalid request", "errors": errors}, 422)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 400:  # FastAPI's "error parsing the body" (e.g. not UTF-8)
            return _json({"detail": f"body: not a valid JSON document ({exc.detail})"}, 422)
        return _json({"detail": str(exc.detail)}, exc.status_code, exc.headers)

    not_found = {404: {"model": Error, "description": "unknown user or item"}}

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: ``{"status": "ok"}``."""
        return {"status": "ok"}

    @app.get("/info")
    async def get_info() -> Response:
        """Model, dataset, evaluation protocol, test metrics, index (with its recall@K
        against exact), limits."""
        return _json({**info, "limits": {"k_max": K_MAX, "max_users": MAX_USERS,
                                         "max_history": MAX_HISTORY}})

    @app.get("/recommend", response_model=Recommendation, responses=not_found)
    async def recommend(user: str = Query(..., description="raw user id"),
                        k: int = Query(10, ge=1, le=K_MAX),
                        exclude_seen: bool | None = Query(None)) -> Response:
        """Top-k items for one known user (best first, at most k)."""
        row = int(engine.user_rows([user])[0])
        items, scores = await batcher(row, k, exclude_seen)
        return _json({"user": user, "items": items, "scores": scores})

    @app.post("/recommend", response_model=BatchResponse, responses=not_found)
    async def recommend_batch(body: BatchRequest) -> Response:
        """Top-k items for each user of a batch, in the order given."""
        rows = engine.user_rows(body.users)
        res = await run(engine.recommend_rows, rows, body.k, body.exclude_seen)
        return _json({"k": body.k, "results": [
            {"user": u, "items": i, "scores": s} for u, (i, s) in zip(body.users, res)]})

    @app.post("/recommend/history", response_model=Recommendation, responses=not_found)
    async def recommend_history(body: HistoryRequest) -> Response:
        """Top-k items after a history of raw item ids (oldest first, latest last)."""
        items, scores = await run(engine.recommend_history, body.items, body.k,
                                  body.exclude_seen)
        return _json({"items": items, "scores": scores})

    @app.get("/similar-items", response_model=Recommendation, responses=not_found)
    async def similar_items(item: str = Query(..., description="raw item id"),
                            k: int = Query(10, ge=1, le=K_MAX)) -> Response:
        """The k items nearest to an item by inner product of their representations."""
        items, scores = await run(engine.similar_items, item, k)
        return _json({"item": item, "items": items, "scores": scores})

    return app


def bind(host: str, port: int) -> Any:
    """A listening TCP socket on ``host:port`` (port 0: a free one).

    Raises:
        SsrecError: the address cannot be bound (in use, not local, ...)."""
    import socket

    if not 0 <= port <= 65535:
        raise SsrecError(f"--port {port}: use 0..65535 (0: a free port)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise SsrecError(f"--host {host!r}: {exc.strerror}") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        raise SsrecError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    return sock


def serve(app: FastAPI, sock: Any, access_log: bool = False) -> None:
    """Run ``app`` with uvicorn on the bound socket ``sock`` until interrupted.

    Searches run one at a time on one worker thread, each single-threaded
    (:func:`~ssrec.serving.index.tune_for_serving`)."""
    import uvicorn

    from ssrec.serving.index import tune_for_serving

    tune_for_serving()

    config = uvicorn.Config(app, log_level="warning", access_log=access_log,
                            timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])


__all__ = ["K_MAX", "MAX_BATCH", "MAX_HISTORY", "MAX_USERS", "bind", "create_app", "serve"]
