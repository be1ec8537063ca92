"""Multi-behaviour recommenders (family ``"multi_behavior"``): they read ``data.behaviors``
(one user–item graph per behaviour: view, cart, buy) and predict the target behaviour."""

from ssrec.models.multi_behavior.base import MultiBehaviorCF
from ssrec.models.multi_behavior.behaviorpop import BehaviorPop
from ssrec.models.multi_behavior.cml import CML
from ssrec.models.multi_behavior.mbcgcn import MBCGCN
from ssrec.models.multi_behavior.mbgcn import MBGCN
from ssrec.models.multi_behavior.smbrec import SMBRec

__all__ = ["BehaviorPop", "CML", "MBCGCN", "MBGCN", "MultiBehaviorCF", "SMBRec"]
