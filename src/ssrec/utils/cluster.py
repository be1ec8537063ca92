"""k-means clustering behind one small function (faiss does the work).

Used for NCL's prototypes (Lin et al., WWW'22), whose authors cluster with faiss as well.
"""

from __future__ import annotations

import torch


def kmeans(x: torch.Tensor, k: int, n_iter: int = 20, seed: int = 0, n_redo: int = 1,
           threads: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means on the rows of ``x`` (squared Euclidean distance).

    Runs :class:`faiss.Kmeans` on a float32 CPU copy of ``x`` (gradients are not tracked) and
    returns the results on ``x``'s device. Initial centroids are ``k`` distinct rows drawn with
    ``seed``, so a call is deterministic for a given input and seed (a single run can end in a
    local optimum; ``n_redo`` restarts reduce that). faiss's warning for fewer than 39 points
    per cluster is switched off: small ``n / k`` is a valid, if coarse, request.

    Args:
        x: ``[N, D]`` points.
        k: number of clusters, ``1 <= k <= N``.
        n_iter: Lloyd iterations (default 20).
        seed: seeds the initialisation.
        n_redo: independent restarts; the clustering with the lowest within-cluster sum of
            squares is kept (default 1: a single run, as NCL's authors do).
        threads: OpenMP threads for faiss (default: ``torch.get_num_threads()``, so a run's
            ``train.num_threads`` also bounds k-means; faiss's own default, every core, is
            ten times slower on a machine shared with other jobs).

    Returns:
        ``(centroids [k, D], assignment [N])``: the centroids (``x.dtype``) and, for each
        point, the index of its nearest centroid (``int64``).

    Raises:
        ValueError: if ``x`` is not 2-D or ``k`` is not in ``[1, N]`` (faiss itself would abort
            on ``k > N``).
        ImportError: if faiss is not installed (``pip install faiss-cpu``).
    """
    if x.dim() != 2:
        raise ValueError(f"kmeans expects a [N, D] matrix, got shape {tuple(x.shape)}")
    n, d = x.shape
    if not 1 <= k <= n:
        raise ValueError(f"cannot form {k} clusters from {n} points: k must be in [1, {n}]")
    if n_iter < 1 or n_redo < 1:
        raise ValueError(f"n_iter and n_redo must be >= 1, got {n_iter} and {n_redo}")
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - faiss is a dependency
        raise ImportError("k-means needs faiss: pip install faiss-cpu") from exc
    data = x.detach().to("cpu", torch.float32).contiguous().numpy()
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(torch.get_num_threads() if threads is None else int(threads))
    try:
        km = faiss.Kmeans(d, k, niter=n_iter, nredo=n_redo, seed=int(seed), verbose=False,
                          min_points_per_centroid=1)
        km.train(data)
        _, assign = km.index.search(data, 1)
    finally:
        faiss.omp_set_num_threads(previous)
    centroids = torch.from_numpy(km.centroids.copy()).to(device=x.device, dtype=x.dtype)
    return centroids, torch.from_numpy(assign[:, 0].astype("int64")).to(x.device)
