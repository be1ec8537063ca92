"""Alignment, uniformity and the angular distribution of user and item representations.

Definitions (``x̃ = x / ||x||₂``, the L2-normalised representation; squared Euclidean
distances):

* **Alignment** (Wang & Isola, ICML 2020, eq. 2 with α = 2; DirectAU, Wang et al., KDD 2022,
  eq. 4): ``l_align = E_{(u,i) ~ p_pos} ||ũ − ĩ||²`` over the **positive user–item pairs of
  the training data** (the interactions the model was fitted on; validation and test pairs
  excluded). Lower = positives closer. Range ``[0, 4]``.
* **Uniformity** (Wang & Isola eq. 3 with t = 2; DirectAU eq. 5):
  ``l_uniform = log E_{x, x'} exp(−2 ||x̃ − x̃'||²)``, computed **separately** over the users
  and over the items (DirectAU's loss averages the two; both are reported here), the
  expectation taken over all **distinct** pairs ``x ≠ x'`` (as ``torch.pdist`` in both papers'
  code) of the users, respectively items, that have at least one training interaction. Lower =
  more uniform on the hypersphere; ``−4`` is the bound of two antipodal points, about
  ``−3.9`` for many points spread uniformly in 64 dimensions, ``0`` when all coincide.

The **angle distribution** reproduces the SimGCL paper's embedding-distribution figure (Yu et
al., SIGIR 2022, Fig. 1 and 3): representations mapped to 2-D, each point normalised onto the
unit circle, a Gaussian KDE of the angles ``atan2(y, x)``. SimGCL used t-SNE; here the map is
the **uncentred rank-2 SVD** of the normalised representations (their projection on the top
two right singular vectors), for three reasons: it is linear, so a distribution spread
uniformly on the hypersphere projects to a rotation-invariant one (uniform angles) and a
concentrated one stays concentrated; it keeps the common direction that centring (PCA) would
remove and t-SNE (which preserves only neighbourhoods, not directions from the origin) does not
represent; and it is deterministic and fast (no perplexity, no seed, seconds for 10⁵ points).
Two numbers summarise the angles: the **mean resultant length** ``R = |mean(exp(iθ))|`` (0 for
angles spread evenly, 1 when all coincide) and the **KL divergence of the angle KDE from the
uniform density** ``1/(2π)`` (0 = uniform).
"""

from __future__ import annotations

import math

import numpy as np
import torch

BLOCK = 1024  # rows per block of the pairwise kernel (memory: BLOCK x n floats)
GRID = 360  # angle grid of the KDE


def normalise(x: torch.Tensor) -> torch.Tensor:
    """Rows of ``x [n, d]`` scaled to unit L2 norm (zero rows stay zero)."""
    return torch.nn.functional.normalize(x.detach().to(torch.float32), dim=1)


def alignment(users: torch.Tensor, items: torch.Tensor, pairs_u: np.ndarray | torch.Tensor,
              pairs_i: np.ndarray | torch.Tensor) -> float:
    """``E ||ũ − ĩ||²`` over the positive pairs ``(pairs_u[k], pairs_i[k])``.

    Args:
        users: ``[U, d]`` user representations (normalised here).
        items: ``[I, d]`` item representations (normalised here).
        pairs_u, pairs_i: ``int [P]`` user and item indices of the positive pairs.

    Raises:
        ValueError: no pairs, or pair arrays of different lengths.
    """
    pu, pi = torch.as_tensor(pairs_u, dtype=torch.long), torch.as_tensor(pairs_i,
                                                                         dtype=torch.long)
    if pu.numel() == 0 or pu.shape != pi.shape:
        raise ValueError(f"alignment needs positive pairs of equal length, got {pu.shape} and "
                         f"{pi.shape}")
    u, i = normalise(users), normalise(items)
    total = 0.0
    for start in range(0, pu.numel(), 1 << 16):
        sl = slice(start, start + (1 << 16))
        d = u[pu[sl].to(u.device)] - i[pi[sl].to(i.device)]
        total += float(d.pow(2).sum(1).to(torch.float64).sum())
    return total / pu.numel()


def uniformity(x: torch.Tensor, t: float = 2.0) -> float:
    """``log mean_{j≠k} exp(−t ||x̃_j − x̃_k||²)`` over all distinct pairs of the rows of
    ``x [n, d]`` (normalised here), computed exactly in blocks of rows (memory
    ``O(BLOCK · n)``).

    Raises:
        ValueError: fewer than two rows.
    """
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"uniformity needs at least two representations, got {n}")
    z = normalise(x)
    total = 0.0
    for start in range(0, n, BLOCK):
        zb = z[start:start + BLOCK]
        sq = (2.0 - 2.0 * (zb @ z.T)).clamp_(min=0.0)  # ||a − b||² of unit vectors
        sq[torch.arange(zb.shape[0]), torch.arange(start, start + zb.shape[0])] = math.inf
        total += float(torch.exp(-t * sq).sum(dtype=torch.float64))
    return math.log(total / (n * (n - 1)))


def project_angles(x: torch.Tensor) -> np.ndarray:
    """``float64 [n]`` angles in ``(−π, π]`` of the rows of ``x [n, d]`` after normalising,
    projecting on the top two right singular vectors of the (uncentred) normalised matrix and
    normalising onto the unit circle. Each singular vector's sign is fixed so that the mean
    projection on it is ≥ 0 (the angles do not depend on the SVD routine's sign choice)."""
    z = normalise(x).to(torch.float64)
    _, _, vh = torch.linalg.svd(z, full_matrices=False)
    p = z @ vh[:2].T  # [n, 2]
    p = p * torch.where(p.mean(0) < 0, -1.0, 1.0)
    return torch.atan2(p[:, 1], p[:, 0]).cpu().numpy()


def angle_kde(theta: np.ndarray, grid: int = GRID) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian KDE of angles on the circle: ``(grid angles [G] in [−π, π), density [G])``,
    integrating to 1 over ``2π``. The kernel is wrapped (copies at ±2π) and its bandwidth is
    Scott's rule ``n^(−1/5) · s`` with ``s`` the standard deviation of the angles measured
    from their circular mean (so a cluster at ±π is not mistaken for a wide spread), and at
    least one grid step (so the density on the grid integrates to 1).

    Raises:
        ValueError: no angles.
    """
    theta = np.asarray(theta, dtype=np.float64)
    if theta.size == 0:
        raise ValueError("angle_kde needs at least one angle")
    mean_dir = np.angle(np.exp(1j * theta).mean())
    centred = np.angle(np.exp(1j * (theta - mean_dir)))
    h = max(theta.size ** (-0.2) * float(centred.std()), 2 * math.pi / grid)
    g = np.linspace(-math.pi, math.pi, grid, endpoint=False)
    dens = np.zeros(grid)
    for start in range(0, theta.size, 4096):
        d = g[:, None] - theta[None, start:start + 4096]
        for shift in (-2 * math.pi, 0.0, 2 * math.pi):
            dens += np.exp(-0.5 * ((d + shift) / h) ** 2).sum(1)
    dens /= theta.size * h * math.sqrt(2 * math.pi)
    return g, dens


def angle_summary(theta: np.ndarray) -> dict[str, float]:
    """``{"mean_resultant_length": R, "kl_from_uniform": KL}`` of angles (see module docs;
    the KL integrates the KDE of :func:`angle_kde` on its grid)."""
    theta = np.asarray(theta, dtype=np.float64)
    r = float(abs(np.exp(1j * theta).mean()))
    g, dens = angle_kde(theta)
    step = 2 * math.pi / g.size
    p = dens * step
    p = p / p.sum()
    kl = float(np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1) * g.size), 0.0)))
    return {"mean_resultant_length": r, "kl_from_uniform": kl}
