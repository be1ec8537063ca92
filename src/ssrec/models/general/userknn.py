"""UserKNN."""

from __future__ import annotations

import torch

from ssrec.data.dataset import InteractionData
from ssrec.models.base import Recommender, register_model
from ssrec.models.general.itemknn import ItemKNNConfig
from ssrec.models.layers import cosine_topk, csr_buffers, csr_rows_times, csr_tensor


class UserKNNConfig(ItemKNNConfig):
    """Attributes: as :class:`ItemKNNConfig`, with ``k`` neighbours kept per **user**."""


@register_model("UserKNN")
class UserKNN(Recommender):
    """User-based neighbourhood model for implicit feedback: each user keeps the ``k`` most
    cosine-similar users (over the rows of the binary training matrix ``R [U, I]``), and the
    score of item ``j`` is the summed similarity of the neighbours who interacted with ``j``.

    Sarwar et al., "Analysis of Recommendation Algorithms for E-Commerce", ACM EC 2000 (the
    user-based top-N recommender with cosine neighbourhoods):

    * ``sim(u, v) = r_u · r_v / (‖r_u‖ ‖r_v‖ + shrink)``, kept for the ``k`` largest positive
      values per user ``u`` (``W [U, U]``, sparse);
    * ``s(u, j) = Σ_v W[u, v] R[v, j]``, i.e. ``scores = W[users] R``.

    SELFRec's UserKNN divides by the summed similarities; on binary feedback that gives every
    item some neighbour has seen the score 1, so the sum is used here.

    Nothing is trained (``trainable = False``): ``W`` is built at construction with
    :func:`~ssrec.models.layers.cosine_topk` and kept as CSR buffers (saved with the model).
    Memory: ``W`` holds at most ``U·k`` entries; building it needs one dense ``[b, U]`` block at
    a time (32 MiB); scoring a block of ``B`` users is one sparse-sparse product ``W[users] R``
    (about ``B·k·|I_v|`` multiply-adds) densified into the ``[B, I]`` scores (no dense
    ``U × U`` matrix).

    Shapes: ``score(users [B]) -> [B, I]``. Config: ``k`` 50, ``shrink`` 0.
    """

    Config = UserKNNConfig
    paper = "Sarwar et al., Analysis of Recommendation Algorithms for E-Commerce, ACM EC 2000"
    trainable = False

    def __init__(self, cfg: UserKNNConfig, data: InteractionData):
        super().__init__(cfg, data)
        sim = cosine_topk(data.train_csr, cfg.k, cfg.shrink)  # [U, U], row u: u's neighbours
        for name, t in zip(("sim_crow", "sim_col", "sim_val"), csr_buffers(sim)):
            self.register_buffer(name, t)  # W [U, U]
        for name, t in zip(("inter_crow", "inter_col", "inter_val"), csr_buffers(data.train_csr)):
            self.register_buffer(name, t)  # R [U, I]

    def score(self, users: torch.Tensor) -> torch.Tensor:
        inter = csr_tensor(self.inter_crow, self.inter_col, self.inter_val,
                           (self.n_users, self.n_items))
        return csr_rows_times(self.sim_crow, self.sim_col, self.sim_val, users, inter)  # [B, I]
