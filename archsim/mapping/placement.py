"""Placement: put parts on cores so that hop-weighted traffic is small.

Greedy start: parts in layer order fill the board chip by chip, each chip row by row in a snake
(boustrophedon), so consecutive layers sit side by side and a layer crosses chip borders only when
a chip is full. Local improvement: passes of pairwise swaps (with empty cores too) kept when they
lower ``sum(traffic x hops)``, where a hop across a chip border costs ``interchip_hop_weight``.
"""
from __future__ import annotations

import numba as nb
import numpy as np


def snake_slots(mesh_x: int, mesh_y: int, chips_x: int, chips_y: int) -> np.ndarray:
    """Board coordinates (x, y) of every core in greedy fill order."""
    slots = []
    for cy in range(chips_y):
        for cx in range(chips_x):
            for y in range(mesh_y):
                xs = range(mesh_x) if y % 2 == 0 else range(mesh_x - 1, -1, -1)
                slots.extend((cx * mesh_x + x, cy * mesh_y + y) for x in xs)
    return np.asarray(slots, dtype=np.int64).reshape(-1, 2)


def place(n_parts: int, edges: dict[tuple[int, int], float], mesh_x: int, mesh_y: int, chips_x: int,
          chips_y: int, passes: int, interchip_hop_weight: float, seed: int) -> np.ndarray:
    """(n_parts, 2) board coordinates, one distinct core per part."""
    slots = snake_slots(mesh_x, mesh_y, chips_x, chips_y)
    slot_of = np.arange(n_parts, dtype=np.int64)
    if edges and passes > 0:
        src = np.fromiter((k[0] for k in edges), dtype=np.int64, count=len(edges))
        dst = np.fromiter((k[1] for k in edges), dtype=np.int64, count=len(edges))
        weight = np.fromiter(edges.values(), dtype=np.float64, count=len(edges))
        order = np.argsort(np.concatenate([src, dst]), kind="stable")
        ends = np.concatenate([src, dst])[order]
        others = np.concatenate([dst, src])[order]
        weights = np.concatenate([weight, weight])[order]
        indptr = np.searchsorted(ends, np.arange(n_parts + 1))
        slot_of = _improve(slot_of, len(slots), slots, indptr, others, weights, mesh_x, mesh_y,
                           float(interchip_hop_weight), passes, seed)
    return slots[slot_of]


@nb.njit(cache=True)
def _hops(a, b, mesh_x, mesh_y, interchip):
    dx = abs(a[0] - b[0])
    dy = abs(a[1] - b[1])
    cross = abs(a[0] // mesh_x - b[0] // mesh_x) + abs(a[1] // mesh_y - b[1] // mesh_y)
    return dx + dy + cross * (interchip - 1.0)


@nb.njit(cache=True)
def _part_cost(p, slot, slot_of, slots, indptr, others, weights, mesh_x, mesh_y, interchip):
    cost = 0.0
    for k in range(indptr[p], indptr[p + 1]):
        q = others[k]
        cost += weights[k] * _hops(slots[slot], slots[slot_of[q]], mesh_x, mesh_y, interchip)
    return cost


@nb.njit(cache=True)
def _improve(slot_of, n_slots, slots, indptr, others, weights, mesh_x, mesh_y, interchip, passes, seed):
    np.random.seed(seed)
    n = slot_of.shape[0]
    part_at = np.full(n_slots, -1, np.int64)
    for p in range(n):
        part_at[slot_of[p]] = p
    for _ in range(passes):
        for p in range(n):
            s_new = np.random.randint(n_slots)
            s_old = slot_of[p]
            if s_new == s_old:
                continue
            q = part_at[s_new]
            before = _part_cost(p, s_old, slot_of, slots, indptr, others, weights, mesh_x, mesh_y, interchip)
            if q >= 0:
                before += _part_cost(q, s_new, slot_of, slots, indptr, others, weights, mesh_x, mesh_y, interchip)
            slot_of[p] = s_new
            if q >= 0:
                slot_of[q] = s_old
            after = _part_cost(p, s_new, slot_of, slots, indptr, others, weights, mesh_x, mesh_y, interchip)
            if q >= 0:
                after += _part_cost(q, s_old, slot_of, slots, indptr, others, weights, mesh_x, mesh_y, interchip)
            if after < before - 1e-9:
                part_at[s_new] = p
                part_at[s_old] = q
            else:
                slot_of[p] = s_old
                if q >= 0:
                    slot_of[q] = s_new
    return slot_of
