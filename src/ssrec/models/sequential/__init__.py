"""Sequential recommenders on the :class:`~ssrec.models.sequential.base.Sequential` base."""

from ssrec.models.sequential.base import Sequential, SequentialConfig
from ssrec.models.sequential.baselines import SKNN, Transition
from ssrec.models.sequential.bert4rec import BERT4Rec
from ssrec.models.sequential.cl4srec import CL4SRec
from ssrec.models.sequential.duorec import DuoRec
from ssrec.models.sequential.sasrec import SASRec

__all__ = ["BERT4Rec", "CL4SRec", "DuoRec", "SASRec", "SKNN", "Sequential", "SequentialConfig",
           "Transition"]
