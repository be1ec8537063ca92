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
from ssrec.models.sequential import BERT4Rec, CL4SRec, DuoRec, SASRec, Sequential

__all__ = [
    "BERT4Rec",
    "CL4SRec",
    "DuoRec",
    "MF",
    "MODELS",
    "EmbeddingCF",
    "GraphCF",
    "LightGCN",
    "LossOutput",
    "ModelConfig",
    "MostPop",
    "Recommender",
    "SASRec",
    "Sequential",
    "SimGCL",
    "TrainContext",
    "XSimGCL",
    "register_model",
]
