"""torch.distributed for the one trainer: the process group torchrun asks for, the rank's
device, and the few collectives the trainer and the evaluator use.

``torchrun --nproc_per_node N -m ssrec train ...`` starts N processes whose environment holds
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address; :func:`setup` joins the
process group they describe (gloo on CPU, NCCL on CUDA, one GPU per process: ``cuda:LOCAL_RANK``).
Without those variables, or with ``WORLD_SIZE=1``, nothing is set up and every helper here is a
no-op, so single-process code paths never change.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from ssrec.errors import ConfigError

log = logging.getLogger("ssrec.distributed")

# whether this module created the process group (then :func:`shutdown` destroys it)
_OWNED = False


def launched() -> bool:
    """Whether this process was started by torchrun (or another launcher) as one of several:
    ``WORLD_SIZE`` > 1 in the environment."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1) > 1


def active() -> bool:
    """Whether a process group of more than one process is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if active() else 0


def world_size() -> int:
    """Number of processes in the group (1 without a process group)."""
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Rank 0, the process that writes the run folder and logs (True without a group)."""
    return rank() == 0


def setup(device: torch.device) -> torch.device:
    """Join torchrun's process group if this process is one of several, and return the device
    this rank trains on.

    The backend is NCCL when ``device`` is CUDA (each rank takes ``cuda:LOCAL_RANK``, so one
    GPU per process), else gloo. A group set up earlier by the caller is used as it is.

    Args:
        device: the resolved run device (``cpu`` or ``cuda``).

    Returns:
        ``device`` itself without a group; ``cuda:LOCAL_RANK`` for a CUDA rank.

    Raises:
        ConfigError: a CUDA run asks for more processes on this machine than it has GPUs, or
            the group's backend does not fit the device (NCCL needs CUDA tensors).
    """
    global _OWNED
    if not launched() and not active():
        return device
    local = int(os.environ.get("LOCAL_RANK", "0") or 0)
    if device.type == "cuda":
        n_gpu = torch.cuda.device_count()
        if local >= n_gpu:
            raise ConfigError(f"distributed: local rank {local} needs a GPU of its own but this "
                              f"machine has {n_gpu}; start at most {n_gpu} processes per node "
                              "(--nproc_per_node) or train with device=cpu")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not (dist.is_available() and dist.is_initialized()):
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
        _OWNED = True
        log.info("distributed: rank %d of %d (%s, device %s)", dist.get_rank(),
                 dist.get_world_size(), backend, device)
    backend = dist.get_backend()
    if backend == "nccl" and device.type != "cuda":
        raise ConfigError("distributed: the process group uses NCCL, which needs CUDA tensors, "
                          "but the run's device is cpu; use gloo for CPU runs")
    return device


def shutdown() -> None:
    """Destroy the process group :func:`setup` created (no-op otherwise)."""
    global _OWNED
    if _OWNED and dist.is_initialized():
        dist.destroy_process_group()
    _OWNED = False


def _comm_device() -> torch.device:
    """Where collectives' tensors must live: the current GPU under NCCL, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """The element-wise sum of ``x`` over all ranks (``x`` itself without a group), as a new
    tensor on ``x``'s device; ``x`` is moved to the backend's device for the reduction."""
    if not active():
        return x
    buf = x.detach().to(_comm_device(), copy=True)
    dist.all_reduce(buf, op=dist.ReduceOp.SUM)
    return buf.to(x.device)


def all_reduce_sum_numpy(x: np.ndarray) -> np.ndarray:
    """:func:`all_reduce_sum` for a NumPy array (same dtype and shape back)."""
    if not active():
        return x
    return all_reduce_sum(torch.from_numpy(np.ascontiguousarray(x))).cpu().numpy()


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    return obj


def _to_device(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(o, device) for o in obj)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    return obj


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank (pickled; ``obj`` itself without a group). Tensors
    travel through the CPU, so a CUDA tensor of rank 0 never lands on rank 0's GPU elsewhere:
    the result's tensors are CPU tensors."""
    if not active():
        return obj
    box = [_to_cpu(obj) if dist.get_rank() == src else None]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def sync_attributes(model: torch.nn.Module, names: tuple[str, ...], device: torch.device
                    ) -> None:
    """Overwrite ``model.<name>`` on every rank with rank 0's value, for state that a model's
    epoch hook computes outside autograd with a computation that may differ in the last bits
    between processes (NCL's k-means prototypes: faiss's threaded reductions); tensors are
    placed on ``device``."""
    if not active() or not names:
        return
    values = broadcast_object({n: getattr(model, n) for n in names})
    for n, v in values.items():
        setattr(model, n, _to_device(v, device))


def seed_mix(*parts: int) -> int:
    """A 63-bit seed derived from integers (``numpy.random.SeedSequence``), so that epoch- and
    rank-specific seeds of a run never collide with each other or with the run's seed."""
    state = np.random.SeedSequence([int(p) % 2**63 for p in parts]).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))

__all__ = ["active", "all_reduce_sum", "all_reduce_sum_numpy", "broadcast_object",
           "is_main", "launched", "rank", "seed_mix", "setup", "shutdown", "sync_attributes",
           "world_size"]
