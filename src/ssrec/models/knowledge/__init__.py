"""Knowledge-graph recommenders (family ``"knowledge"``): they read ``data.kg``."""

from ssrec.models.knowledge.kgcl import KGCL
from ssrec.models.knowledge.kgin import KGIN
from ssrec.models.knowledge.kgrec import KGRec
from ssrec.models.knowledge.mcclk import MCCLK

__all__ = ["KGCL", "KGIN", "KGRec", "MCCLK"]
