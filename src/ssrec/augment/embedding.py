"""Embedding-space augmentations."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

# SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators",
# OOPSLA 2014): the Weyl increment and the two multipliers of its output mix (Stafford's Mix13)
_GAMMA_U = 0x9E3779B97F4A7C15
_MIX1_U = 0xBF58476D1CE4E5B9
_MIX2_U = 0x94D049BB133111EB
# the same bits as int64, for tensor operations (torch has no uint64 shifts on CPU; int64
# products and sums wrap modulo 2^64 like uint64's)
_GAMMA, _MIX1, _MIX2 = _GAMMA_U - 2**64, _MIX1_U - 2**64, _MIX2_U - 2**64
# a CPU draw is made in blocks of about this many entries, so its int64 buffers stay in cache
_BLOCK_ENTRIES = 1 << 18
# the compiled CPU kernel: None until first use, False without numba
_kernel: Callable[..., None] | bool | None = None


def _xorshift_(z: torch.Tensor, shift: int, tmp: torch.Tensor) -> torch.Tensor:
    """``z ^= z >>> shift`` in place, a logical (uint64) shift of int64 bits: the arithmetic
    shift copies the sign bit, so the top ``shift`` bits are cleared."""
    torch.bitwise_right_shift(z, shift, out=tmp)
    tmp.bitwise_and_((1 << (64 - shift)) - 1)
    return z.bitwise_xor_(tmp)


def _mix_(z: torch.Tensor, tmp: torch.Tensor) -> torch.Tensor:
    """SplitMix64's output function in place, but its last step ``z ^= z >>> 31``, which
    leaves the top 33 bits as they are (callers read the top 24 bits only, or apply it)."""
    _xorshift_(z, 30, tmp).mul_(_MIX1)
    return _xorshift_(z, 27, tmp).mul_(_MIX2)


def _counter_state(seed: torch.Tensor) -> torch.Tensor:
    """The generator state of a draw: SplitMix64's full output function of ``seed`` (a 0-d
    int64 tensor), which scrambles nearby seeds apart."""
    z = seed.clone()
    return _xorshift_(_mix_(z, torch.empty_like(z)), 31, torch.empty_like(z))


def _exact_sqrt(v: torch.Tensor) -> torch.Tensor:
    """The correctly rounded square root of a float64 tensor, so that a draw is the same on
    every device: PyTorch's CPU kernel (MKL / SLEEF) can be 1 ulp off, NumPy's and CUDA's are
    exact."""
    if v.device.type == "cpu":
        return torch.from_numpy(np.sqrt(v.numpy()))
    return v.sqrt()


def _counter_noise_loops(x: np.ndarray, out: np.ndarray, eps: float, state: np.uint64) -> None:
    """:func:`_add_counter_noise` as loops over a C-contiguous float ``[N, D]`` array, for
    numba to compile (:func:`_compiled_kernel`): one pass, the same values."""
    n, d = x.shape
    u = np.empty(d, x.dtype)
    scale = np.empty(1, x.dtype)
    g, m1, m2 = np.uint64(_GAMMA_U), np.uint64(_MIX1_U), np.uint64(_MIX2_U)
    for i in range(n):
        base = state + np.uint64(i * d) * g
        ss = np.uint64(0)
        for j in range(d):
            z = base + np.uint64(j + 1) * g
            z = (z ^ (z >> np.uint64(30))) * m1
            z = (z ^ (z >> np.uint64(27))) * m2
            k = z >> np.uint64(40)  # the top 24 bits (SplitMix64's last step leaves them)
            ss += k * k
            u[j] = k
        scale[0] = eps / max(math.sqrt(np.float64(ss)), 1.0)  # rounded to x's dtype
        sc = scale[0]
        for j in range(d):
            v = x[i, j]
            if v > 0:
                out[i, j] = v + u[j] * sc
            elif v < 0:
                out[i, j] = v - u[j] * sc
            else:  # sign(0) = 0, and NaN stays NaN
                out[i, j] = v


def _compiled_kernel() -> Callable[..., None] | None:
    """:func:`_counter_noise_loops` compiled by numba on first use (without the GIL; cached
    on disk where numba finds a writable folder), or None when numba is not installed (the
    optional ``numba`` extra: on CPU it draws several times faster than the tensor
    operations)."""
    global _kernel
    if _kernel is None:
        try:
            import numba
        except ImportError:
            _kernel = False
        else:
            try:
                _kernel = numba.njit(nogil=True, cache=True)(_counter_noise_loops)
            except RuntimeError:  # "cannot cache function ...: no locator available"
                _kernel = numba.njit(nogil=True)(_counter_noise_loops)
    return _kernel or None


def _add_counter_noise(x: torch.Tensor, eps: float, state: torch.Tensor) -> torch.Tensor:
    """``x + eps * normalize(u) * sign(x)`` row-wise, with the counter-based uniforms ``u`` of
    generator state ``state``, without a gradient (see :func:`uniform_noise`).

    ``u[n, d] = k / 2^24`` with ``k`` the top 24 bits of ``mix(state + (i + 1) * γ)``,
    ``i = n * D + d``: the ``i``-th output of a SplitMix64 generator started at ``state``
    (uint64 arithmetic modulo 2^64). A row's ``Σ k²`` is summed exactly in int64 and its scale
    ``eps / sqrt(Σ k²)`` rounded once to ``x``'s dtype (the ``2^-24`` cancels out); a row whose
    24-bit draws are all 0 is left as it is. On CPU, with numba installed, a compiled kernel
    computes the same values in one pass.

    Args:
        x: ``[N, D]`` float32 or float64 tensor, on any device.
        eps: the noise norm per row, ``>= 0``.
        state: 0-d int64 tensor on ``x``'s device (e.g. from :func:`_counter_state`).

    Returns:
        A new ``[N, D]`` tensor (no autograd history).
    """
    n, d = x.shape
    x = x.detach()
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    if n == 0 or d == 0:
        return out
    if x.device.type == "cpu" and (kernel := _compiled_kernel()) is not None:
        kernel(x.contiguous().numpy(), out.numpy(), eps, np.uint64(int(state) % 2**64))
        return out
    # rows per block: the whole tensor off the CPU (one kernel per operation is what counts)
    rows = n if x.device.type != "cpu" else max(1, min(n, _BLOCK_ENTRIES // d))
    base = torch.arange(1, rows * d + 1, dtype=torch.int64, device=x.device).mul_(_GAMMA)
    z, tmp = torch.empty_like(base), torch.empty_like(base)
    for s in range(0, n, rows):
        r = min(rows, n - s)
        m = r * d
        # state + (s * D + j + 1) * γ for the block's entries j = 0..m-1
        offset = (s * d * _GAMMA + 2**63) % 2**64 - 2**63
        zb, tb = z[:m], tmp[:m]
        torch.add(base[:m], state + offset if s else state, out=zb)
        k = _mix_(zb, tb).bitwise_right_shift_(40).bitwise_and_(0xFFFFFF).view(r, d)
        ss = torch.mul(k, k, out=tb.view(r, d)).sum(1, keepdim=True)  # < D * 2^48: exact
        norm = _exact_sqrt(ss.double()).clamp_min_(1.0)  # [r, 1]
        # eps / norm as one division (a scalar over a tensor would multiply by a reciprocal)
        scale = torch.full_like(norm, eps).div_(norm).to(x.dtype)
        xb, ob = x[s:s + r], out[s:s + r]
        torch.mul(k, scale, out=ob)  # k < 2^24: exact in float32
        ob.mul_(torch.sign(xb)).add_(xb)
    return out


class _AddNoise(torch.autograd.Function):
    """:func:`_add_counter_noise` with the identity as its gradient (the noise and
    ``sign(x)`` carry none)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, eps: float,  # type: ignore[override]
                state: torch.Tensor) -> torch.Tensor:
        return _add_counter_noise(x, eps, state)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return grad, None, None


def uniform_noise(x: torch.Tensor, eps: float, generator: torch.Generator | None = None,
                  training: bool = True) -> torch.Tensor:
    """Add sign-aligned uniform noise of L2 norm ``eps`` to each row (SimGCL / XSimGCL view).

    Implements ``x' = x + eps * normalize(Δ) ⊙ sign(x)`` with ``Δ ~ U(0, 1)`` (Yu et al.,
    "Are Graph Augmentations Necessary?", SIGIR'22, Eq. 7): the noise keeps every coordinate's
    sign, so a row moves at most ``eps`` and stays in its hyperoctant.

    ``Δ`` is a counter-based stream: one 63-bit seed is drawn from ``generator`` per call, and
    entry ``i = n * D + d`` of ``Δ`` is the top 24 bits of the ``i``-th output of a SplitMix64
    generator started from that (scrambled) seed, scaled to ``[0, 1)`` like ``torch.rand``'s
    float32 draws (see :func:`_add_counter_noise`). The values depend on the seed and the
    index only: the same on any number of threads, and, for the same seed, on any device. It
    is computed with int64 tensor operations (any device), or on CPU, when the optional
    ``numba`` extra is installed, by a compiled kernel several times faster (the same values).
    A row whose draw is all zero (with ``D = 1``, about one in 2^24) is left unchanged.

    Args:
        x: ``[..., D]`` floating-point embeddings (each ``D``-vector is a row); float16 and
            bfloat16 are perturbed in float32 and rounded back.
        eps: noise magnitude (L2 norm per row), ``>= 0``.
        generator: random generator on ``x``'s device (default: the global one).
        training: when False, return ``x`` unchanged.

    Returns:
        Perturbed embeddings shaped like ``x``, a new tensor (``x`` is not modified), or ``x``
        itself when ``eps == 0`` or not ``training``. The gradient with respect to ``x`` is the
        identity (the noise and ``sign(x)`` carry none).

    Raises:
        ValueError: if ``eps`` is negative or NaN, or ``x`` has no dimension.
        TypeError: if ``x`` is not floating-point.
    """
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    if x.dim() == 0:
        raise ValueError("uniform_noise needs a tensor of rows [..., D], got a scalar")
    if not x.is_floating_point():
        raise TypeError(f"uniform_noise needs a floating-point tensor, got {x.dtype}")
    if not training or eps == 0:
        return x
    seed = torch.randint(0, 2**63 - 1, (), generator=generator, device=x.device)
    rows = x.reshape(-1, x.shape[-1])
    if x.dtype not in (torch.float32, torch.float64):
        rows = rows.float()
    y = _AddNoise.apply(rows, float(eps), _counter_state(seed))
    return y.to(x.dtype).view(x.shape)


def _check_rate(p: float) -> None:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"drop rate must be in [0, 1), got {p}")


def embedding_dropout(x: torch.Tensor, p: float, generator: torch.Generator | None = None,
                      training: bool = True) -> torch.Tensor:
    """Inverted dropout on embedding entries: each entry is zeroed with probability ``p`` and
    the survivors are scaled by ``1 / (1 - p)``, so ``E[x'] = x``.

    The "embedding dropout" perturbation of SelfCF (Zhou et al., ACM TORS 2023) and the
    feature-dropout view of SSL4Rec applied to ID embeddings (Yao et al., CIKM'21, as adapted
    by SELFRec). Unlike ``torch.nn.functional.dropout`` it draws from ``generator``.

    Args:
        x: ``[N, D]`` (any shape) embeddings.
        p: drop probability in ``[0, 1)``.
        generator: random generator on ``x``'s device (default: the global one).
        training: when False, return ``x`` unchanged.

    Returns:
        A new tensor shaped like ``x`` (``x`` itself when ``p == 0`` or not training).

    Raises:
        ValueError: if ``p`` is outside ``[0, 1)``.
    """
    _check_rate(p)
    if not training or p == 0.0:
        return x
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= p
    return x * keep.to(x.dtype) / (1.0 - p)


def complementary_masks(x: torch.Tensor, p: float = 0.5,
                        generator: torch.Generator | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Two views with complementary feature masks: a random subset of each row's entries
    (each entry independently with probability ``p``) is zeroed in the first view and kept in
    the second, and vice versa.

    The random feature masking (RFM) of SSL4Rec (Yao et al., CIKM'21), applied to the
    dimensions of an ID embedding: the two views share no visible feature, so the contrastive
    task must relate them through what the model learned.

    Args:
        x: ``[N, D]`` embeddings.
        p: probability that an entry is hidden in the first view, in ``[0, 1)``.
        generator: random generator on ``x``'s device.

    Returns:
        ``(view1 [N, D], view2 [N, D])`` with ``view1 + view2 == x``.

    Raises:
        ValueError: if ``p`` is outside ``[0, 1)``.
    """
    _check_rate(p)
    hide = (torch.rand(x.shape, generator=generator, device=x.device) < p).to(x.dtype)
    return x * (1.0 - hide), x * hide
