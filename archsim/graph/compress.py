"""Workload transforms that compress a network before it is mapped: magnitude pruning.

SNN compression studies (pruning and weight precision; Deng et al., "Comprehensive SNN compression using
ADMM optimization and activity regularization", IEEE TNNLS 2021, from the Tianjic group) trade accuracy
for cores, energy and latency. Weight precision is a chip parameter (``precision.weight_bits``, a chip
sweep axis); pruning changes the workload, so it lives here and a sweep varies it as
``workload.prune_density``.

:func:`prune` keeps, in every weighted op (Dense, Conv1d, Conv2d), the ``density`` fraction of its
existing synapses (non-zero weights) with the largest magnitude and zeroes the rest: one-shot magnitude
pruning without fine-tuning (the simplest baseline of the compression literature; fine-tuning after
pruning would recover accuracy and is not modelled). Ties at the cut are broken by position (stable
order), so the result is deterministic. A pruned weight is a zero, so it is a synapse that does not
exist: it takes no memory in a sparse synapse format and no synaptic operation anywhere
(:mod:`archsim.mapping.storage`).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.sparse as sp

from archsim.errors import UserError
from archsim.graph.network import Conv1d, Conv2d, Dense, Network

WEIGHTED_OPS = (Dense, Conv1d, Conv2d)


def check_density(density, where: str = "--prune-density") -> float:
    """``density`` as a float in (0, 1], else a one-line UserError naming ``where``."""
    try:
        value = float(density)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 < value <= 1.0:
        raise UserError(f"{where}: {str(density)[:40]!r} is not allowed (allowed: a fraction of the synapses kept, 0 < density <= 1)")
    return value


def prune(network: Network, density: float) -> Network:
    """A copy of ``network`` whose weighted ops keep ``density`` of their non-zero weights (largest |w|).

    ``density == 1`` returns the network unchanged. The copy's metadata records the transform under
    ``transforms`` and keeps the trainer's quantisation hints (the largest weight of each layer, which
    sets its scale, is never pruned).
    """
    density = check_density(density)
    if density == 1.0:
        return network
    layers = []
    for layer in network.layers:
        projections = tuple(
            dataclasses.replace(p, ops=tuple(_pruned_op(op, density) for op in p.ops)) for p in layer.projections)
        layers.append(dataclasses.replace(layer, projections=projections))
    metadata = {**network.metadata, "transforms": {**network.metadata.get("transforms", {}), "prune_density": density}}
    return dataclasses.replace(network, layers=layers, metadata=metadata)


def _pruned_op(op, density: float):
    if not isinstance(op, WEIGHTED_OPS):
        return op
    weight = op.weight
    if sp.issparse(weight):
        kept = sp.coo_matrix(weight)
        mask = _keep_mask(kept.data, density)
        pruned = sp.csr_matrix((kept.data[mask], (kept.row[mask], kept.col[mask])), shape=kept.shape)
        return dataclasses.replace(op, weight=pruned)
    flat = np.asarray(weight).ravel()
    values = np.zeros_like(flat)
    nonzero = np.flatnonzero(flat)
    mask = _keep_mask(flat[nonzero], density)
    values[nonzero[mask]] = flat[nonzero[mask]]
    return dataclasses.replace(op, weight=values.reshape(np.shape(weight)))


def _keep_mask(values: np.ndarray, density: float) -> np.ndarray:
    """Which of ``values`` (the existing weights of one op) survive: the ceil(density x n) largest |w|."""
    keep = math.ceil(density * values.size)
    order = np.argsort(-np.abs(values), kind="stable")
    mask = np.zeros(values.size, dtype=bool)
    mask[order[:keep]] = True
    return mask
