"""ItemKNN."""

from __future__ import annotations

import torch
from pydantic import Field

from ssrec.data.dataset import InteractionData
from ssrec.models.base import ModelConfig, Recommender, register_model
from ssrec.models.layers import cosine_topk, csr_buffers, csr_rows_times, csr_tensor


class ItemKNNConfig(ModelConfig):
    """Attributes:
        k: neighbours kept per item (50, as SELFRec).
        shrink: added to the cosine's denominator, ``>= 0`` (0: plain cosine).
    """

    k: int = Field(50, ge=1)
    shrink: float = Field(0.0, ge=0)


@register_model("ItemKNN")
class ItemKNN(Recommender):
    """Item-based neighbourhood model for implicit feedback: each item keeps its ``k`` most
    cosine-similar items (over the columns of the binary training matrix ``R [U, I]``), and a
    user's score for item ``j`` is the summed similarity of ``j`` to the user's items.

    Deshpande & Karypis, "Item-Based Top-N Recommendation Algorithms", ACM TOIS 2004 (the
    cosine model, similarities not row-normalised):

    * ``sim(i, j) = r_i · r_j / (‖r_i‖ ‖r_j‖ + shrink)`` for item columns ``r_i``, kept for the
      ``k`` largest positive values per item ``i`` (``S [I, I]``, sparse);
    * ``s(u, j) = Σ_{i ∈ I_u} S[i, j]``, i.e. ``scores = R[users] S``.

    SELFRec's ItemKNN instead divides by the summed similarities; on binary feedback that
    gives every reachable item the score 1, so the sum (as in the paper) is used here.

    Nothing is trained (``trainable = False``): ``S`` is built at construction with
    :func:`~ssrec.models.layers.cosine_topk` and kept as CSR buffers (saved with the model).
    Memory: ``S`` holds at most ``I·k`` entries; building it needs one dense ``[b, I]`` block
    at a time (32 MiB); scoring a block of ``B`` users is one sparse-sparse product
    ``R[users] S`` (about ``B·|I_u|·k`` multiply-adds) densified into the ``[B, I]`` scores
    (no dense ``I × I`` matrix).

    Shapes: ``score(users [B]) -> [B, I]``. Config: ``k`` 50, ``shrink`` 0.
    """

    Config = ItemKNNConfig
    paper = "Deshpande & Karypis, Item-Based Top-N Recommendation Algorithms, ACM TOIS 2004"
    trainable = False

    def __init__(self, cfg: ItemKNNConfig, data: InteractionData):
        super().__init__(cfg, data)
        sim = cosine_topk(data.train_csr.T, cfg.k, cfg.shrink)  # [I, I], row i: i's neighbours
        for name, t in zip(("sim_crow", "sim_col", "sim_val"), csr_buffers(sim)):
            self.register_buffer(name, t)  # S [I, I]
        for name, t in zip(("hist_crow", "hist_col", "hist_val"), csr_buffers(data.train_csr)):
            self.register_buffer(name, t)  # R [U, I]

    def score(self, users: torch.Tensor) -> torch.Tensor:
        sim = csr_tensor(self.sim_crow, self.sim_col, self.sim_val, (self.n_items, self.n_items))
        return csr_rows_times(self.hist_crow, self.hist_col, self.hist_val, users, sim)  # [B, I]
