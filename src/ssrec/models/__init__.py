"""Models: the contract (:mod:`ssrec.models.base`), family bases and the registered models.

Importing this package registers every built-in model in :data:`MODELS`.
"""

from ssrec.models.base import MODELS, LossOutput, ModelConfig, Recommender, TrainContext, register_model
from ssrec.models.cf import EmbeddingCF, GraphCF
from ssrec.models.general.mf import MF
from ssrec.models.general.mostpop import MostPop
from ssrec.models.graph.directau import DirectAU
from ssrec.models.graph.lightgcl import LightGCL
from ssrec.models.graph.lightgcn import LightGCN
from ssrec.models.graph.mixgcf import MixGCF
from ssrec.models.graph.ncl import NCL
from ssrec.models.graph.sgl import SGL
from ssrec.models.graph.simgcl import SimGCL
from ssrec.models.graph.xsimgcl import XSimGCL

__all__ = [
    "MF",
    "MODELS",
    "NCL",
    "SGL",
    "DirectAU",
    "EmbeddingCF",
    "GraphCF",
    "LightGCL",
    "LightGCN",
    "LossOutput",
    "MixGCF",
    "ModelConfig",
    "MostPop",
    "Recommender",
    "SimGCL",
    "TrainContext",
    "XSimGCL",
    "register_model",
]
