"""Models: the contract (:mod:`ssrec.models.base`), family bases and the registered models.

Importing this package registers every built-in model in :data:`MODELS`.
"""

from ssrec.models.base import MODELS, LossOutput, ModelConfig, Recommender, TrainContext, register_model
from ssrec.models.cf import EmbeddingCF, GraphCF
from ssrec.models.general.mf import MF
from ssrec.models.general.mostpop import MostPop
from ssrec.models.graph.lightgcn import LightGCN
from ssrec.models.graph.simgcl import SimGCL
from ssrec.models.graph.xsimgcl import XSimGCL
from ssrec.models.social.mhcn import MHCN
from ssrec.models.social.sept import SEPT

__all__ = [
    "MF",
    "MODELS",
    "EmbeddingCF",
    "GraphCF",
    "LightGCN",
    "LossOutput",
    "MHCN",
    "ModelConfig",
    "MostPop",
    "Recommender",
    "SEPT",
    "SimGCL",
    "TrainContext",
    "XSimGCL",
    "register_model",
]
