"""Models: the contract (:mod:`ssrec.models.base`), family bases and the registered models.

Importing this package registers every built-in model in :data:`MODELS`.
"""

from ssrec.models.base import MODELS, LossOutput, ModelConfig, Recommender, TrainContext, register_model
from ssrec.models.cf import EmbeddingCF, GraphCF
from ssrec.models.general.itemknn import ItemKNN
from ssrec.models.general.mf import MF
from ssrec.models.general.mostpop import MostPop
from ssrec.models.general.ssl4rec import SSL4Rec
from ssrec.models.general.userknn import UserKNN
from ssrec.models.graph.buir import BUIR
from ssrec.models.graph.directau import DirectAU
from ssrec.models.graph.lightgcl import LightGCL
from ssrec.models.graph.lightgcn import LightGCN
from ssrec.models.graph.mixgcf import MixGCF
from ssrec.models.graph.ncl import NCL
from ssrec.models.graph.selfcf import SelfCF
from ssrec.models.graph.sgl import SGL
from ssrec.models.graph.simgcl import SimGCL
from ssrec.models.graph.xsimgcl import XSimGCL
from ssrec.models.knowledge import KGCL, KGIN, MCCLK, KGRec
from ssrec.models.multi_behavior import CML, MBCGCN, MBGCN, SMBRec
from ssrec.models.social.mhcn import MHCN
from ssrec.models.social.sept import SEPT
from ssrec.models.sequential import SKNN, BERT4Rec, CL4SRec, DuoRec, SASRec, Sequential, Transition

from ssrec.models.configs import (  # noqa: E402  (after the models: they fill the registry)
    config_reference,
    dump_config,
    model_class,
    model_config,
    resolved_config,
)

__all__ = [
    "BERT4Rec",
    "BUIR",
    "CML",
    "CL4SRec",
    "DirectAU",
    "DuoRec",
    "EmbeddingCF",
    "GraphCF",
    "ItemKNN",
    "KGCL",
    "KGIN",
    "KGRec",
    "LightGCL",
    "LightGCN",
    "LossOutput",
    "MBCGCN",
    "MBGCN",
    "MCCLK",
    "MF",
    "MHCN",
    "MixGCF",
    "ModelConfig",
    "MODELS",
    "MostPop",
    "NCL",
    "Recommender",
    "register_model",
    "SASRec",
    "SelfCF",
    "SEPT",
    "Sequential",
    "SGL",
    "SimGCL",
    "SKNN",
    "SMBRec",
    "SSL4Rec",
    "TrainContext",
    "Transition",
    "UserKNN",
    "XSimGCL",
    "config_reference",
    "dump_config",
    "model_class",
    "model_config",
    "resolved_config",
]
