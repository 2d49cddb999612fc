"""Prepared datasets: ``prepare`` (videos -> dataset folder), ``datasets`` (torch datasets, registry),
``augment`` (flip with left/right swap, colour jitter)."""

from .datasets import DATASETS, ClipDataset, build_dataset, read_index, register_dataset

__all__ = ["DATASETS", "ClipDataset", "build_dataset", "read_index", "register_dataset"]
