"""What serving needs from a trained run, in memory and as an export folder.

A model is served as **retrieval by inner product**: every user ``u`` and item ``i`` has a
float32 representation and ``score(u, i) = users[u] · items[i]``, the score the model's own
:meth:`~ssrec.models.base.Recommender.score` gives (so an exact inner-product index ranks items
as the evaluator does). Embedding models (MF, the graph models, the social models, SSL4Rec)
give them through ``embeddings()``; sequential models through the encoder: a user's
representation is the query vector of the state of the user's **whole** history, latest item
included (:meth:`~ssrec.data.sequence.UserSequences.history` ``"all"``), and the items are the
model's output vectors. Models that do not score by an inner product (MostPop, ItemKNN,
UserKNN) cannot be exported.

Export folder (``ssrec export RUN --out DIR``)::

    manifest.json     model, dataset, protocol, test/valid metrics, how to score, the files'
                      sha256, the approximate indexes and their recall@K against exact
    users.npy         float32 [U, D]   user representations, row r = user_ids[r]
    items.npy         float32 [I, D]   item representations, row r = item_ids[r]
    user_ids.json     [U] raw user ids in row order
    item_ids.json     [I] raw item ids in row order
    history.npz       CSR [U, I] (scipy.sparse.save_npz): each user's known interactions
                      (train + valid + test), excluded from recommendations when asked
    encoder.pt        sequential models only: the model's weights (torch state_dict) to
                      encode a history sent at request time
    index-hnsw.faiss, index-ivf.faiss   the approximate indexes built at export (optional)

The folder is written under a temporary name beside ``DIR`` and renamed into place, so a
reader never sees half an export.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import torch

import ssrec
from ssrec.data.catalog import sha256_file
from ssrec.data.idmap import IdMap
from ssrec.errors import SsrecError
from ssrec.models import model_config
from ssrec.utils.io import _atomic, atomic_write_json

if TYPE_CHECKING:
    from ssrec.models.base import Recommender
    from ssrec.models.sequential.base import Sequential
    from ssrec.training.run import LoadedRun

FORMAT = "ssrec-export"
VERSION = 1
MANIFEST = "manifest.json"
_ENCODE_CHUNK = 1024  # users encoded at a time when exporting a sequential model


@dataclass
class Artifacts:
    """A servable model in memory (see the module docs).

    Attributes:
        users: ``float32 [U, D]`` user representations.
        items: ``float32 [I, D]`` item representations.
        user_ids, item_ids: raw id ↔ row maps.
        history: ``[U, I]`` CSR of each user's known items (train + valid + test).
        info: what ``manifest.json`` says about the model: ``model`` (name, family, params),
            ``dataset``, ``protocol``, ``metrics``, ``exclude_seen`` (the run's default),
            ``history_input`` and, when loaded from a folder, ``indexes``.
        encoder: a sequential model (eval mode) to encode histories at request time, else
            None (then a history is folded in as the mean of its items' representations).
        source: ``"run"`` or ``"export"``, and ``path`` the folder read.
        index_files: the approximate indexes saved in the export, by kind (``"hnsw"``, ...).
    """

    users: np.ndarray
    items: np.ndarray
    user_ids: IdMap
    item_ids: IdMap
    history: sp.csr_matrix
    info: dict[str, Any]
    encoder: Sequential | None = None
    source: str = "run"
    path: Path | None = None
    index_files: dict[str, Path] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        """``D``, the dimension of the representations."""
        return int(self.items.shape[1])

    def history_row(self, u: int) -> np.ndarray:
        """``int64 [n]`` the known items of user row ``u``."""
        h = self.history
        return h.indices[h.indptr[u]:h.indptr[u + 1]].astype(np.int64)


def exportable(model: Recommender) -> bool:
    """Whether ``model`` scores by an inner product of user and item representations."""
    from ssrec.models.cf import EmbeddingCF
    from ssrec.models.sequential.base import Sequential

    return isinstance(model, (EmbeddingCF, Sequential))


@torch.no_grad()
def representations(model: Recommender, data: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(users float32 [U, D], items float32 [I, D])`` with ``users @ items.T`` equal to
    ``model.score`` (sequential models: the scores after each user's whole history).

    Raises:
        SsrecError: the model does not score by an inner product.
    """
    from ssrec.models.sequential.base import Sequential

    if not exportable(model):
        raise SsrecError(f"{model.name} does not score by an inner product of user and item "
                         "representations, so it cannot be exported or served; export an "
                         "embedding, graph, social or sequential model")
    was_training = model.training
    model.eval()
    try:
        if isinstance(model, Sequential):
            hist = data.sequences.history("all")
            items = model.output_vectors()
            dev = items.device
            rows = np.arange(data.n_users, dtype=np.int64)
            users = torch.empty(data.n_users, items.shape[1], dtype=torch.float32)
            for start in range(0, rows.size, _ENCODE_CHUNK):
                users[start:start + _ENCODE_CHUNK] = encode_rows(model, hist,
                                                                  rows[start:start + _ENCODE_CHUNK],
                                                                  dev).cpu()
            u = users
        else:
            u, items = model.embeddings()  # what score() multiplies (EmbeddingCF)
        return (np.ascontiguousarray(u.float().cpu().numpy()),
                np.ascontiguousarray(items.float().cpu().numpy()))
    finally:
        model.train(was_training)


def encode_rows(model: Sequential, hist: Any, rows: np.ndarray,
                device: torch.device | None = None) -> torch.Tensor:
    """Query vectors ``[B, D]`` of rows ``rows`` of the histories ``hist`` (a
    :class:`~ssrec.data.sequence.Ragged`), read as the evaluator reads a split's input
    (:meth:`~ssrec.models.sequential.base.Sequential.history_input`)."""
    seq, lengths = model.history_input(hist, rows)
    if device is not None:
        seq, lengths = seq.to(device), lengths.to(device)
    return model.query_vectors(model.state(seq, lengths))


def known_items(data: Any) -> sp.csr_matrix:
    """``[U, I]`` binary CSR of every known interaction (train + valid + test)."""
    h = (data.train_csr + data.valid_csr + data.test_csr).tocsr()
    h.sort_indices()
    h.data = np.ones(h.nnz, dtype=np.int8)
    return h


def from_run(loaded: LoadedRun) -> Artifacts:
    """The :class:`Artifacts` of a reloaded run (:func:`~ssrec.training.run.load_run`).

    Raises:
        SsrecError: the model cannot be served (see :func:`representations`), or the run's
            ``results.json`` cannot be read.
    """
    from ssrec.evaluation import resolve_exclude_seen
    from ssrec.models.sequential.base import Sequential

    model, data, cfg = loaded.model, loaded.data, loaded.cfg
    users, items = representations(model, data)
    res_path = loaded.run_dir / "results.json"
    try:
        results = json.loads(res_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SsrecError(f"{res_path} cannot be read ({exc})") from None
    sequential = isinstance(model, Sequential)
    info = {
        "model": {"name": model.name, "family": model.family,
                  "params": model_config(cfg).model_dump(mode="json")},
        "dataset": data.name,
        "run": str(loaded.run_dir),
        "protocol": results.get("protocol"),
        "metrics": {"test": results.get("test"), "valid": results.get("valid"),
                    "best_epoch": results.get("best_epoch")},
        "exclude_seen": resolve_exclude_seen(cfg.eval, model),
        "scoring": "score(u, i) = users[u] . items[i] (float32 inner product)",
        "history": "each user's train + valid + test items",
        "history_input": (
            f"sequence encoder: the last {model_config(cfg).max_len} items of the history, "
            "oldest first, latest included; a known user's representation encodes the user's "
            "whole history" if sequential else
            "fold-in: the mean of the history items' representations"),
    }
    encoder = None
    if sequential:
        encoder = model
    return Artifacts(users, items, IdMap(data.users.raw_ids), IdMap(data.items.raw_ids),
                     known_items(data), info, encoder, "run", loaded.run_dir)


# ---- export folder ---------------------------------------------------------------------------


def _save_npy(path: Path, arr: np.ndarray) -> None:
    _atomic(path, lambda fh: np.save(fh, arr, allow_pickle=False))


def write_export(art: Artifacts, out: str | os.PathLike[str], overwrite: bool = False,
                 ann: tuple[str, ...] = ("hnsw", "ivf"), recall_k: int = 20,
                 seed: int = 2020) -> dict[str, Any]:
    """Write ``art`` as an export folder (see the module docs) and return its manifest.

    The approximate indexes named in ``ann`` (``"hnsw"``, ``"ivf"``) are built, their
    recall@``recall_k`` against the exact index measured on up to 1,000 users (seeded by
    ``seed``), and both saved (:func:`~ssrec.serving.index.build_measured`).

    Raises:
        SsrecError: ``out`` exists and is not empty (unless ``overwrite``), or is a file.
    """
    from ssrec.serving.index import build_measured, save_index

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SsrecError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        what = "an export" if (out / MANIFEST).is_file() else "files"
        raise SsrecError(f"--out {out} already holds {what}; pass --overwrite to replace it "
                         "or choose another folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        _save_npy(tmp / "users.npy", np.ascontiguousarray(art.users, dtype=np.float32))
        _save_npy(tmp / "items.npy", np.ascontiguousarray(art.items, dtype=np.float32))
        atomic_write_json(tmp / "user_ids.json", art.user_ids.to_list(), indent=None)
        atomic_write_json(tmp / "item_ids.json", art.item_ids.to_list(), indent=None)
        hist = art.history.tocsr()
        _atomic(tmp / "history.npz", lambda fh: sp.save_npz(fh, hist, compressed=True))
        sequential = None
        if art.encoder is not None:
            state = {k: v.detach().cpu() for k, v in art.encoder.state_dict().items()}
            _atomic(tmp / "encoder.pt", lambda fh: torch.save({"state_dict": state}, fh))
            sequential = {"encoder": "encoder.pt", "max_len": art.encoder.cfg.max_len,
                          "n_users": int(art.encoder.n_users)}
        indexes: dict[str, Any] = {}
        for kind in ann:
            index, meta = build_measured(art, kind, k=recall_k, seed=seed)
            name = f"index-{kind}.faiss"
            save_index(index, tmp / name)
            indexes[kind] = {"file": name, **meta}
        files = sorted(p.name for p in tmp.iterdir() if not p.name.startswith("."))
        manifest = {
            "format": FORMAT, "version": VERSION, "ssrec": ssrec.__version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **art.info,
            "users": {"count": int(art.users.shape[0]), "dim": art.dim, "file": "users.npy",
                      "ids": "user_ids.json"},
            "items": {"count": int(art.items.shape[0]), "dim": art.dim, "file": "items.npy",
                      "ids": "item_ids.json"},
            "history_file": {"file": "history.npz", "nnz": int(hist.nnz)},
            "sequential": sequential,
            "indexes": indexes,
            "files": {n: {"sha256": sha256_file(tmp / n), "bytes": (tmp / n).stat().st_size}
                      for n in files},
        }
        atomic_write_json(tmp / MANIFEST, manifest)
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def is_export(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder holding a ``manifest.json``."""
    return (Path(path) / MANIFEST).is_file()


def _bad(path: Path, what: str) -> SsrecError:
    return SsrecError(f"{path}: {what}; export the run again (`ssrec export RUN --out DIR "
                      "--overwrite`)")


def load_export(path: str | os.PathLike[str], device: str | None = None) -> Artifacts:
    """Read an export folder, checking every file against the manifest's sha256 and the
    arrays' shapes against each other.

    Args:
        path: the folder written by :func:`write_export`.
        device: where a sequential encoder runs (``"auto"``: CUDA when available).

    Raises:
        SsrecError: no or unreadable ``manifest.json``, another format or version, a missing
            or changed file, arrays whose shapes disagree, an encoder that does not load.
    """
    from ssrec.models import MODELS
    from ssrec.utils.device import resolve_device

    root = Path(path)
    mpath = root / MANIFEST
    if not mpath.is_file():
        raise SsrecError(f"{root} holds no {MANIFEST}: is it a folder written by `ssrec export`?")
    try:
        man = json.loads(mpath.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _bad(mpath, f"cannot be read ({exc})") from None
    if not isinstance(man, dict) or man.get("format") != FORMAT:
        raise _bad(mpath, f"field 'format' is {man.get('format') if isinstance(man, dict) else None!r}, "
                   f"expected {FORMAT!r}")
    if man.get("version") != VERSION:
        raise _bad(mpath, f"field 'version' is {man.get('version')!r}; this ssrec reads "
                   f"version {VERSION}")
    files = man.get("files")
    if not isinstance(files, dict):
        raise _bad(mpath, "field 'files' is missing")
    for name, meta in files.items():
        f = root / name
        if not f.is_file():
            raise _bad(f, "is listed in manifest.json but missing")
        if sha256_file(f) != (meta or {}).get("sha256"):
            raise _bad(f, "its sha256 differs from the one in manifest.json (the file changed "
                       "after the export)")
    try:
        users = np.load(root / "users.npy", allow_pickle=False)
        items = np.load(root / "items.npy", allow_pickle=False)
        user_ids = IdMap(json.loads((root / "user_ids.json").read_text()))
        item_ids = IdMap(json.loads((root / "item_ids.json").read_text()))
        history = sp.load_npz(root / "history.npz").tocsr()
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise _bad(root, f"cannot be read ({type(exc).__name__}: {exc})") from None
    for name, arr in (("users.npy", users), ("items.npy", items)):
        if arr.dtype != np.float32 or arr.ndim != 2:
            raise _bad(root / name, f"holds {arr.dtype} {arr.shape}, expected float32 [n, d]")
    if users.shape[1] != items.shape[1]:
        raise _bad(root / "users.npy", f"has dimension {users.shape[1]} but items.npy "
                   f"{items.shape[1]}")
    if users.shape[0] != len(user_ids) or items.shape[0] != len(item_ids):
        raise _bad(root, f"users.npy/items.npy have {users.shape[0]}/{items.shape[0]} rows "
                   f"but user_ids.json/item_ids.json {len(user_ids)}/{len(item_ids)} ids")
    if history.shape != (users.shape[0], items.shape[0]):
        raise _bad(root / "history.npz", f"has shape {history.shape}, expected "
                   f"{(users.shape[0], items.shape[0])}")
    encoder = None
    seq = man.get("sequential")
    if seq:
        model_info = man.get("model") or {}
        try:
            cls = MODELS.get(model_info.get("name"))
            stub = SimpleNamespace(n_users=int(seq["n_users"]), n_items=items.shape[0],
                                   sequences=None, name=man.get("dataset"), social=None)
            encoder = cls.build(stub, model_info.get("params") or {})  # type: ignore[arg-type]
            ck = torch.load(root / seq["encoder"], map_location="cpu", weights_only=True)
            encoder.load_state_dict(ck["state_dict"])
        except (SsrecError, KeyError, TypeError, ValueError, RuntimeError, OSError) as exc:
            raise _bad(root / str(seq.get("encoder")),
                       f"the {model_info.get('name')} encoder cannot be rebuilt "
                       f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
                       ) from None
        encoder.to(resolve_device(device or "auto"))
        encoder.eval()
    keep = ("model", "dataset", "run", "protocol", "metrics", "exclude_seen", "scoring",
            "history", "history_input", "indexes", "created", "ssrec")
    info = {k: man.get(k) for k in keep}
    index_files = {kind: root / meta["file"] for kind, meta in (man.get("indexes") or {}).items()
                   if isinstance(meta, dict) and "file" in meta}
    return Artifacts(users, items, user_ids, item_ids, history, info, encoder, "export", root,
                     index_files)


def load_served(path: str | os.PathLike[str], data_dir: str | None = None,
                device: str | None = None, allow_data_change: bool = False) -> Artifacts:
    """The :class:`Artifacts` of a run folder or an export folder (one with a
    ``manifest.json``).

    Raises:
        SsrecError: see :func:`load_export` and :func:`~ssrec.training.run.load_run`.
    """
    if is_export(path):
        return load_export(path, device=device)
    from ssrec.training.run import load_run

    t0 = time.perf_counter()
    art = from_run(load_run(path, data_dir=data_dir, device=device,
                            allow_data_change=allow_data_change))
    art.info["load_seconds"] = round(time.perf_counter() - t0, 3)
    return art


__all__ = ["Artifacts", "encode_rows", "exportable", "from_run", "is_export", "known_items",
           "load_export", "load_served", "representations", "write_export"]
