"""Knowledge-graph augmentations: relation-aware triple dropout and KGCL's KG-guided
interaction dropout."""

from __future__ import annotations

import torch


def _check_rate(p: float | torch.Tensor) -> None:
    lo, hi = (float(p.min()), float(p.max())) if isinstance(p, torch.Tensor) else (p, p)
    if not (0.0 <= lo and hi < 1.0):
        raise ValueError(f"drop rate must be in [0, 1), got {p}")


def drop_triples(head: torch.Tensor, relation: torch.Tensor, tail: torch.Tensor,
                 p: float | torch.Tensor, generator: torch.Generator | None = None,
                 training: bool = True
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Relation-aware edge dropout on a knowledge graph: drop each triple independently with
    the drop probability of its relation.

    With one rate for every relation this is the KG view of KGCL (Yang et al., SIGIR 2022,
    Eq. 5: ``M^k ~ Bernoulli(1 - p_k)`` over the triples); a ``[R]`` tensor of rates drops the
    relations at different rates (e.g. thinning a dominant relation more).

    Args:
        head, relation, tail: ``int64 [T]`` triples.
        p: drop probability in ``[0, 1)``: a float, or ``float [R]``, one per relation.
        generator: random generator on the triples' device.
        training: when False, nothing is dropped.

    Returns:
        ``(head [T'], relation [T'], tail [T'], mask bool [T])``, ``mask`` marking kept triples.

    Raises:
        ValueError: a rate outside ``[0, 1)``.
    """
    _check_rate(p)
    if not training or (not isinstance(p, torch.Tensor) and p == 0.0):
        mask = torch.ones(head.shape, dtype=torch.bool, device=head.device)
        return head, relation, tail, mask
    rate = p.to(head.device)[relation] if isinstance(p, torch.Tensor) else p
    mask = torch.rand(head.shape, generator=generator, device=head.device) >= rate
    return head[mask], relation[mask], tail[mask], mask


def kg_guided_keep_probability(consistency: torch.Tensor, p: float, floor: float = 0.3,
                               cap: float = 0.95) -> torch.Tensor:
    """KGCL's keep probability of each item's interactions from its KG structure consistency
    (Yang et al., SIGIR 2022, Sec. 3.3, Eq. 8-9): items whose KG-aggregated representation
    changes little between two KG views (high consistency ``c_i``, the cosine of the two
    views' representations) are less noisy and keep their interactions more often.

    ``w_i = max((e^{c_i} − min_j e^{c_j}) / (max_j e^{c_j} − min_j e^{c_j}), floor)``, then
    ``keep_i = min((1 − p) · w_i / mean_j w_j, cap)``, so the mean keep probability is about
    ``1 − p`` (exactly, when no item reaches ``cap``).

    Args:
        consistency: ``float [I]`` the items' consistency (cosine in ``[-1, 1]``).
        p: the drop rate ``p`` in ``[0, 1)``.
        floor: the least relative weight ``p_τ`` of an item (0.3, as the official code).
        cap: the largest keep probability (0.95, as the official code).

    Returns:
        ``float [I]`` keep probabilities in ``(0, cap]``.

    Raises:
        ValueError: ``p`` outside ``[0, 1)``.
    """
    _check_rate(p)
    s = torch.exp(consistency)
    span = (s.max() - s.min()).clamp_min(1e-12)
    w = ((s - s.min()) / span).clamp_min(floor)
    return ((1.0 - p) * w / w.mean()).clamp_max(cap)


def kg_guided_interaction_dropout(user: torch.Tensor, item: torch.Tensor,
                                  keep: torch.Tensor, generator: torch.Generator | None = None,
                                  training: bool = True
                                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """KGCL's KG-guided interaction-graph dropout: keep each user–item edge ``(u, i)`` with
    the keep probability of its item (Yang et al., SIGIR 2022, Eq. 10:
    ``ρ_{u,i} ~ Bernoulli(keep_i)``, ``keep`` from :func:`kg_guided_keep_probability`).

    (The paper draws a mask per edge, as here; the official code draws one per item and keeps
    or drops all of the item's edges together.)

    Args:
        user, item: ``int64 [E]`` interaction edges.
        keep: ``float [I]`` keep probability per item, in ``[0, 1]``.
        generator: random generator on the edges' device.
        training: when False, nothing is dropped.

    Returns:
        ``(user_kept [E'], item_kept [E'], mask bool [E])``.
    """
    if not training:
        mask = torch.ones(user.shape, dtype=torch.bool, device=user.device)
        return user, item, mask
    mask = torch.rand(user.shape, generator=generator, device=user.device) < keep[item]
    return user[mask], item[mask], mask
