"""Reusable layers."""

from ssrec.models.layers.propagation import SpmmCounter, propagate, spmm

__all__ = ["SpmmCounter", "propagate", "spmm"]
