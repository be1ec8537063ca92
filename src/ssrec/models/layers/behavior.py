"""Behaviour-aware propagation shared by the multi-behaviour models.

Every function takes the per-behaviour normalised adjacencies ``Â_k`` (``[N, N]`` sparse,
``N = U + I``, users first; from :meth:`ssrec.data.behavior.MultiBehavior.norm_adj`) in the
order the model wants them (the cascade order view → cart → buy for MB-CGCN).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ssrec.models.layers.propagation import propagate, spmm


def behavior_messages(adjs: Sequence[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """One propagation step on every behaviour graph: ``M_k = Â_k X``.

    Args:
        adjs: ``K`` sparse ``[N, N]`` adjacencies.
        x: ``[N, D]`` node features.

    Returns:
        ``[K, N, D]``: the messages each node receives in each behaviour graph (a node without
        edges in behaviour ``k`` gets zeros there).
    """
    return torch.stack([spmm(a, x) for a in adjs], dim=0)


def cascade_propagate(adjs: Sequence[torch.Tensor], ego: torch.Tensor,
                      n_layers: Sequence[int],
                      transforms: Sequence[Callable[[torch.Tensor], torch.Tensor]]
                      ) -> list[torch.Tensor]:
    """Cascading light graph convolution (MB-CGCN, Cheng et al., WWW 2023, Eqs. 1-4).

    Behaviour ``1`` propagates the layer-0 embeddings: ``E_1 = LightGCN(Â_1, E^0)``; each next
    behaviour starts from the previous behaviour's output after a feature transformation:
    ``E_{k+1} = LightGCN(Â_{k+1}, f_k(E_k))``. ``LightGCN`` averages layers ``0..L_k``
    (He et al., SIGIR 2020, Eq. 8).

    Args:
        adjs: ``K`` sparse ``[N, N]`` adjacencies, in cascade order.
        ego: ``[N, D]`` layer-0 embeddings.
        n_layers: ``K`` layer counts ``L_k >= 0``.
        transforms: ``K - 1`` functions ``[N, D] -> [N, D]`` (MB-CGCN: separate linear maps
            for the user rows and the item rows).

    Returns:
        ``[E_1, ..., E_K]``, each ``[N, D]``.

    Raises:
        ValueError: the lengths of ``adjs``, ``n_layers`` and ``transforms`` disagree.
    """
    k = len(adjs)
    if len(n_layers) != k or len(transforms) != k - 1:
        raise ValueError(f"{k} behaviour graphs need {k} layer counts and {k - 1} transforms, "
                         f"got {len(n_layers)} and {len(transforms)}")
    outs = []
    x = ego
    for b in range(k):
        out, _ = propagate(adjs[b], x, n_layers[b])
        outs.append(out)
        if b < k - 1:
            x = transforms[b](out)
    return outs
