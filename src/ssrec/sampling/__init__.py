"""Negative sampling and mini-batches."""

from ssrec.sampling.batches import (SAMPLERS, Batch, PairBatch, PairwiseSampler, Sampler,
                                    make_sampler, shard_batch)
from ssrec.sampling.behavior import BehaviorPairBatch, BehaviorPairSampler
from ssrec.sampling.kg import KGBatch, KGTripleSampler
from ssrec.sampling.negatives import NegativeSampler
from ssrec.sampling.sequence import (ClozeBatch, ClozeSampler, SameTargetBatch, SeqBatch,
                                     SequenceSampler)

__all__ = ["SAMPLERS", "Batch", "BehaviorPairBatch", "BehaviorPairSampler",
           "ClozeBatch", "ClozeSampler", "KGBatch", "KGTripleSampler",
           "NegativeSampler", "PairBatch", "PairwiseSampler", "SameTargetBatch", "Sampler",
           "SeqBatch", "SequenceSampler", "make_sampler", "shard_batch"]
