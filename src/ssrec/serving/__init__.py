"""Serving a trained run: export its representations, retrieve top-K with faiss, answer HTTP.

* :mod:`ssrec.serving.artifacts`: the representations, id maps and histories of a run, in
  memory (:func:`from_run`) and as an export folder (:func:`write_export`, :func:`load_export`);
* :mod:`ssrec.serving.index`: exact / HNSW / IVF inner-product indexes, exclusion of known items
  with over-fetch and an exact fallback, recall against exact;
* :mod:`ssrec.serving.engine`: the queries on raw ids (:class:`Engine`);
* :mod:`ssrec.serving.app`: the FastAPI application (needs ``pip install 'ssrec[serve]'``).
"""

from ssrec.serving.artifacts import (
                                     Artifacts,
                                     from_run,
                                     is_export,
                                     load_export,
                                     load_served,
                                     write_export,
)
from ssrec.serving.engine import Engine, UnknownId
from ssrec.serving.index import KINDS, IndexParams, Retriever, build_index
from ssrec.serving.recommend import recommend

__all__ = ["KINDS", "Artifacts", "Engine", "IndexParams", "Retriever", "UnknownId",
           "build_index", "from_run", "is_export", "load_export", "load_served",
           "recommend", "write_export"]
