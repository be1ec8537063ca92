"""Knowledge-graph recommenders (family ``"knowledge"``): they read ``data.kg``."""

from ssrec.models.knowledge.kgcl import KGCL
from ssrec.models.knowledge.kgin import KGIN

__all__ = ["KGCL", "KGIN"]
