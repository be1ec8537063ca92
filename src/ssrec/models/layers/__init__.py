"""Reusable layers."""

from ssrec.models.layers.propagation import propagate, spmm

__all__ = ["propagate", "spmm"]
