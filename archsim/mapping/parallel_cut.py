"""Every layer's split onto cores, in worker processes side by side where the network is large.

A layer's split (:func:`~archsim.mapping.partition.split_layer`) depends on that layer alone, so the
layers of a large network are split in forked worker processes, one layer at a time each, largest
first; the splits come back in layer order and equal the ones a single process makes (each search is
deterministic, seeded by ``mapping.seed``). A forked worker reads the lowered layers its parent
holds (copy on write) instead of receiving them pickled. A small network, a machine with one CPU, or a
process that is itself a worker (a sweep point) splits its layers in the process, one after another.
"""
from __future__ import annotations

import multiprocessing
import os

from archsim.mapping.partition import split_layer

#: Below this many neurons a network's layers split in seconds: a worker pool would cost more than it
#: saves (assumption, from resnet19-cifar10's layers of 16k-131k neurons taking 18-60 s each).
PARALLEL_NEURONS = 100_000

_JOB: dict | None = None          # what forked workers read: set in the parent just before the fork


def split_layers(lowered: dict, limits_of: dict, seed: int, kinds, progress) -> dict:
    """``{name: split or None}`` for every layer of ``lowered`` in its order (``limits_of[name]``: the
    layer's core limits); ``progress.update`` is called with the count of layers done."""
    workers = min(_cpus(), len(lowered))
    if workers < 2 or sum(low.size for low in lowered.values()) < PARALLEL_NEURONS:
        splits = {}
        for name, low in lowered.items():
            splits[name] = split_layer(low, limits_of[name], seed, kinds)
            progress.update(len(splits))
        return splits
    global _JOB
    _JOB = {"lowered": lowered, "limits_of": limits_of, "seed": seed, "kinds": kinds}
    largest_first = sorted(lowered, key=lambda name: -lowered[name].size)
    done = {}
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for name, split in pool.imap_unordered(_split_named, largest_first):
                done[name] = split
                progress.update(len(done))
    finally:
        _JOB = None
    return {name: done[name] for name in lowered}


def _split_named(name: str):
    """In a worker: the split of layer ``name`` of the parent's job."""
    job = _JOB
    return name, split_layer(job["lowered"][name], job["limits_of"][name], job["seed"], job["kinds"])


def _cpus() -> int:
    """CPUs this process may use; 1 inside a worker process (no pool within a pool)."""
    if multiprocessing.parent_process() is not None or multiprocessing.current_process().daemon:
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
