"""Graph-structure augmentations over user–item edge lists (SGL's views)."""

from __future__ import annotations

import torch

from ssrec.data.graph import normalized_adjacency


def _check_rate(p: float) -> None:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"drop rate must be in [0, 1), got {p}")


def drop_edges(user: torch.Tensor, item: torch.Tensor, p: float,
               generator: torch.Generator | None = None, training: bool = True
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Edge dropout: keep each user–item edge independently with probability ``1 - p``.

    (Wu et al., "Self-supervised Graph Learning for Recommendation", SIGIR'21, Eq. 5.)

    Args:
        user: ``int64 [E]`` user index per edge.
        item: ``int64 [E]`` item index per edge.
        p: drop probability in ``[0, 1)``.
        generator: random generator on the edges' device.
        training: when False, nothing is dropped.

    Returns:
        ``(user_kept [E'], item_kept [E'], mask [E])`` where ``mask`` marks kept edges.

    Raises:
        ValueError: if ``p`` is outside ``[0, 1)``.
    """
    _check_rate(p)
    if not training or p == 0.0:
        mask = torch.ones(user.shape, dtype=torch.bool, device=user.device)
        return user, item, mask
    mask = torch.rand(user.shape, generator=generator, device=user.device) >= p
    return user[mask], item[mask], mask


def drop_nodes(user: torch.Tensor, item: torch.Tensor, n_users: int, n_items: int, p: float,
               generator: torch.Generator | None = None, training: bool = True
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Node dropout: drop each user and item node with probability ``p``, with all its edges.

    (Wu et al., SGL, SIGIR'21, Eq. 4.)

    Args:
        user, item: ``int64 [E]`` edge endpoints.
        n_users, n_items: node counts.
        p: drop probability in ``[0, 1)``.

    Returns:
        ``(user_kept [E'], item_kept [E'], mask [E])``.
    """
    _check_rate(p)
    if not training or p == 0.0:
        mask = torch.ones(user.shape, dtype=torch.bool, device=user.device)
        return user, item, mask
    keep_u = torch.rand(n_users, generator=generator, device=user.device) >= p
    keep_i = torch.rand(n_items, generator=generator, device=user.device) >= p
    mask = keep_u[user] & keep_i[item]
    return user[mask], item[mask], mask


def drop_edges_per_layer(user: torch.Tensor, item: torch.Tensor, p: float, n_layers: int,
                         generator: torch.Generator | None = None, training: bool = True
                         ) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Random-walk view: an independent edge dropout for every propagation layer.

    SGL's "RW" augmentation (Wu et al., SIGIR'21, Sec. 3.1) keeps a different sub-graph at each
    layer, so that a node's ``l``-hop neighbourhood is sampled along random paths. Each layer's
    sub-graph is exactly :func:`drop_edges` drawn from ``generator`` in layer order.

    Args:
        user, item: ``int64 [E]`` edge endpoints.
        p: drop probability in ``[0, 1)``, the same for every layer.
        n_layers: ``L >= 1``, number of sub-graphs.
        generator: random generator on the edges' device.
        training: when False, every layer keeps every edge.

    Returns:
        ``L`` tuples ``(user_kept [E_l], item_kept [E_l], mask [E])``, layer 1 first.

    Raises:
        ValueError: if ``p`` is outside ``[0, 1)`` or ``n_layers < 1``.
    """
    _check_rate(p)
    if n_layers < 1:
        raise ValueError(f"n_layers must be >= 1, got {n_layers}")
    return [drop_edges(user, item, p, generator=generator, training=training)
            for _ in range(n_layers)]
def edge_dropout_adjacency(user: torch.Tensor, item: torch.Tensor, n_users: int, n_items: int,
                           p: float, generator: torch.Generator | None = None,
                           training: bool = True) -> torch.Tensor:
    """The normalised adjacency ``D'^{-1/2} A' D'^{-1/2}`` of the graph left after
    :func:`drop_edges` (degrees recomputed on the kept edges, as in SGL's views).

    Used for BUIR's stochastic neighbour-based augmentation (Lee et al., SIGIR'21) and the
    "edge pruning" perturbation of SelfCF (Zhou et al., ACM TORS 2023).

    Args:
        user, item: ``int64 [E]`` training edges (on the target device).
        n_users, n_items: node counts.
        p: drop probability in ``[0, 1)``.
        generator: random generator on the edges' device.
        training: when False (or ``p == 0``) nothing is dropped.

    Returns:
        Sparse CSR ``[U+I, U+I]`` float32 on the edges' device.

    Raises:
        ValueError: if ``p`` is outside ``[0, 1)``.
    """
    ku, ki, _ = drop_edges(user, item, p, generator=generator, training=training)
    return normalized_adjacency(ku, ki, n_users, n_items)
