"""Negative sampling and mini-batches."""

from ssrec.sampling.batches import SAMPLERS, Batch, PairBatch, PairwiseSampler, Sampler, make_sampler
from ssrec.sampling.negatives import NegativeSampler

__all__ = ["SAMPLERS", "Batch", "NegativeSampler", "PairBatch", "PairwiseSampler", "Sampler",
           "make_sampler"]
