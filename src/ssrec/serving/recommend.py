"""Top-K for one user of a reloaded run (``ssrec recommend``), as ``ssrec serve`` answers it."""

from __future__ import annotations

import torch

from ssrec.errors import SsrecError
from ssrec.evaluation import resolve_exclude_seen
from ssrec.serving.artifacts import exportable, from_run, known_items
from ssrec.serving.engine import Engine
from ssrec.training.run import LoadedRun


def recommend(loaded: LoadedRun, user: str, k: int = 10) -> list[tuple[str, float]]:
    """Top-``k`` items for one raw user id, as ``ssrec serve`` answers it
    (:class:`ssrec.serving.Engine`, exact index). The items the user interacted with (train,
    valid and test) are excluded when the run's ``eval.exclude_seen`` (or, unset, the model
    family's default) says so; a sequential model reads the user's whole history, latest
    item included.

    Returns:
        ``[(raw_item_id, score), ...]`` best first.

    Raises:
        SsrecError: unknown user id.
    """
    data, model = loaded.data, loaded.model
    if exportable(model):
        items, scores = Engine(from_run(loaded)).recommend(user, k)
        return list(zip(items, scores))
    # MostPop, ItemKNN, UserKNN, Transition, SKNN: the model's own scores
    if user not in data.users:
        raise SsrecError(f"unknown user {user!r}: not in the training data of {data.name}")
    u = data.users.index(user)
    dev = next((t.device for t in model.buffers()), torch.device("cpu"))
    with torch.no_grad():
        # a sequential baseline (Transition, SKNN) reads the whole history, latest item
        # included, as the exported sequential models do
        model.on_eval_start("all" if model.family == "sequential" else "test")
        try:
            scores = model.score(torch.tensor([u], device=dev)).float().clone()[0]
        finally:
            model.on_eval_end()
    seen = known_items(data)[u].indices
    if not resolve_exclude_seen(loaded.cfg.eval, model):
        seen = seen[:0]
    scores[torch.as_tensor(seen, device=scores.device, dtype=torch.long)] = -torch.inf
    top = torch.topk(scores, min(k, data.n_items - seen.size))
    items = data.items.to_raw(top.indices.cpu().numpy())
    return [(str(i), float(s)) for i, s in zip(items, top.values.cpu().tolist())]


__all__ = ["recommend"]
