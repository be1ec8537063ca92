"""Data: readers, id maps, dataset registry, splits and graph builders."""

from ssrec.data.catalog import DATASETS, DatasetFile, DatasetSpec, locate, resolve_data_dir
from ssrec.data.dataset import InteractionData, load_dataset
from ssrec.data.interactions import Interactions
from ssrec.data.graph import normalized_adjacency
from ssrec.data.idmap import IdMap
from ssrec.data.io import FileFormat, RawInteractions, read_edges, read_interactions
from ssrec.data.sequence import PAD, Ragged, UserSequences, mask_token, windows
from ssrec.data.social import SocialGraph, build_social

__all__ = [
    "DATASETS",
    "DatasetFile",
    "DatasetSpec",
    "FileFormat",
    "IdMap",
    "InteractionData",
    "Interactions",
    "RawInteractions",
    "SocialGraph",
    "build_social",
    "load_dataset",
    "locate",
    "PAD",
    "Ragged",
    "UserSequences",
    "mask_token",
    "normalized_adjacency",
    "read_edges",
    "read_interactions",
    "resolve_data_dir",
    "windows",
]
