"""A stage's cores as flat arrays: what the fast kernels read in one call per phase.

Built once per run from the :class:`~.program.Program`. Within a stage, the *stage input space* is
the concatenation of its layers' input spaces (layer order), the *slots* are the concatenation of
its cores' local neurons (core order: the partial sums), and the *stage outputs* the concatenation
of its layers' outputs. The synapses of the stage's cores are concatenated too, and each
:class:`~.program.CoreProgram`'s ``indices`` / ``weights`` become views into them (no copy kept).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from archsim.models.manycore.program import Program
from archsim.noc import Packets


@dataclass(eq=False)
class StageProgram:
    layers: list[str]
    cores: list                  # CoreProgram of the stage, program order
    core_index: np.ndarray       # program index per stage core
    input_offset: dict           # layer -> offset of its input space in the stage input space
    input_size: int
    # integrate
    axon_ptr: np.ndarray         # per core: its axons in the flat axon arrays
    axon_source: np.ndarray      # per axon: index into the stage input space
    axon_spiking: np.ndarray
    syn_ptr: np.ndarray          # per axon: its synapses in the flat synapse arrays (global offsets)
    indices: np.ndarray          # per synapse: local neuron of its core
    weights: np.ndarray
    slot_ptr: np.ndarray         # per core: its local neurons' slots
    # merge: partial sums of non-owner cores added into their owners' slots
    merge_from: np.ndarray
    merge_to: np.ndarray
    merge_cores: list            # (sender core id, owner core id, flits) in core order
    merge_adds: np.ndarray       # per owner with senders: neurons it adds
    merge_owner: np.ndarray      # per sender (merge packet): program index of its owner core
    merge_neurons: np.ndarray    # per sender: partial sums it sends
    merge_packets: Packets       # one packet per sender, all injected at cycle 0 (the same every step)
    # fire: per layer, its owners' slots in layer-neuron order and the owners' soma cycles
    fire_slots: dict             # layer -> (neuron indices, slots)
    fire_owner_neurons: dict     # layer -> neurons per owner core
    # route: owner cores of the stage's layers, their neurons as stage-output indices
    output_offset: dict          # layer -> offset of its outputs in the stage outputs
    output_size: int
    route_core_ids: np.ndarray
    route_spiking: np.ndarray
    route_neuron_ptr: np.ndarray
    route_neurons: np.ndarray
    dest_ptr: np.ndarray         # over stage outputs: receiving core ids
    dest_cores: np.ndarray


def build_stages(prog: Program) -> list[StageProgram]:
    return [_build_stage(prog, stage) for stage in prog.stages]


def _offsets(sizes) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def _build_stage(prog: Program, stage: list[str]) -> StageProgram:
    p = prog.params
    cores = [c for c in prog.cores if c.layer in stage]
    layers = [prog.layers[n] for n in stage]
    in_sizes = [sum(size for _, _, size, _ in layer.segments) for layer in layers]
    in_off = dict(zip(stage, _offsets(in_sizes)[:-1].tolist()))
    axon_ptr = _offsets([len(c.axon_source) for c in cores])
    slot_ptr = _offsets([len(c.neurons) for c in cores])
    syn_counts = [int(c.indptr[-1]) for c in cores]
    syn_base = _offsets(syn_counts)
    axon_source = np.concatenate([c.axon_source + in_off[c.layer] for c in cores] or [np.zeros(0, np.int64)])
    axon_spiking = np.concatenate([c.axon_spiking for c in cores] or [np.zeros(0, np.int64)])
    syn_ptr = np.zeros(int(axon_ptr[-1]) + 1, np.int64)
    for k, c in enumerate(cores):
        syn_ptr[axon_ptr[k] + 1:axon_ptr[k + 1] + 1] = c.indptr[1:] + syn_base[k]
    indices = np.concatenate([c.indices for c in cores] or [np.zeros(0, np.int32)])
    weights = np.concatenate([c.weights for c in cores] or [np.zeros(0, np.int32)])
    for k, c in enumerate(cores):                      # the cores keep views, not copies
        c.indices = indices[syn_base[k]:syn_base[k + 1]]
        c.weights = weights[syn_base[k]:syn_base[k + 1]]
    slot_of = {c.index: int(slot_ptr[k]) for k, c in enumerate(cores)}

    merge_from, merge_to, merge_cores, adds = [], [], [], {}
    for k, c in enumerate(cores):
        if c.is_owner:
            continue
        owner = prog.cores[c.owner]
        position = np.empty(prog.layers[c.layer].size, np.int64)
        position[owner.neurons] = np.arange(len(owner.neurons))
        merge_from.append(slot_ptr[k] + np.arange(len(c.neurons)))
        merge_to.append(slot_of[owner.index] + position[c.neurons])
        merge_cores.append((c.core_id, owner.core_id, max(1, -(-len(c.neurons) * p.psum_bits // p.packet_bits))))
        adds[c.owner] = adds.get(c.owner, 0) + len(c.neurons)

    fire_slots, fire_owner_neurons = {}, {}
    for layer in layers:
        owners = [prog.cores[i] for i in layer.owners]
        neurons = np.concatenate([o.neurons for o in owners] or [np.zeros(0, np.int64)])
        slots = np.concatenate([slot_of[o.index] + np.arange(len(o.neurons)) for o in owners] or [np.zeros(0, np.int64)])
        fire_slots[layer.name] = (neurons, slots)
        fire_owner_neurons[layer.name] = np.array([len(o.neurons) for o in owners], np.int64)

    out_off = dict(zip(stage, _offsets([layer.size for layer in layers])[:-1].tolist()))
    route_cores = [(layer, prog.cores[i]) for layer in layers for i in layer.owners]
    dest_ptrs, dest_cores, base = [], [], 0
    for layer in layers:
        dest_ptrs.append(layer.dest_ptr[:-1] + base)
        dest_cores.append(layer.dest_cores)
        base += len(layer.dest_cores)
    dest_ptrs.append(np.array([base], np.int64))
    return StageProgram(
        layers=list(stage), cores=cores, core_index=np.array([c.index for c in cores], np.int64),
        input_offset=in_off, input_size=int(sum(in_sizes)), axon_ptr=axon_ptr, axon_source=axon_source,
        axon_spiking=axon_spiking, syn_ptr=syn_ptr, indices=indices, weights=weights, slot_ptr=slot_ptr,
        merge_from=np.concatenate(merge_from or [np.zeros(0, np.int64)]),
        merge_to=np.concatenate(merge_to or [np.zeros(0, np.int64)]), merge_cores=merge_cores,
        merge_adds=np.array(list(adds.values()), np.int64),
        merge_owner=np.array([c.owner for c in cores if not c.is_owner], np.int64),
        merge_neurons=np.array([len(c.neurons) for c in cores if not c.is_owner], np.int64),
        merge_packets=Packets(np.array([m[0] for m in merge_cores], np.int64), np.arange(len(merge_cores) + 1),
                              np.array([m[1] for m in merge_cores], np.int64),
                              np.array([m[2] for m in merge_cores], np.int64), np.zeros(len(merge_cores), np.int64)),
        fire_slots=fire_slots,
        fire_owner_neurons=fire_owner_neurons, output_offset=out_off, output_size=int(sum(l.size for l in layers)),
        route_core_ids=np.array([c.core_id for _, c in route_cores], np.int64),
        route_spiking=np.array([int(layer.spiking) for layer, _ in route_cores], np.int64),
        route_neuron_ptr=_offsets([len(c.neurons) for _, c in route_cores]),
        route_neurons=np.concatenate([c.neurons + out_off[layer.name] for layer, c in route_cores]
                                     or [np.zeros(0, np.int64)]),
        dest_ptr=np.concatenate(dest_ptrs), dest_cores=np.concatenate(dest_cores or [np.zeros(0, np.int64)]))
