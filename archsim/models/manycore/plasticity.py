"""The learning phase: a plastic projection's local rule updated on the cores, after ``fire``.

The rule and its integer form are :mod:`archsim.graph.plasticity`'s. Where it is stored: beside each
plastic synapse's weight cell (the effective weight that ``integrate`` reads) a core keeps, in its
synapse memory, the synapse's global weight, its trace and its coefficient
(:func:`~archsim.graph.plasticity.state_bits_per_synapse` bits; the mapper counts them,
:func:`archsim.mapping.layer_limits`).

The micro-architecture (assumptions where Tianjic's papers say nothing about on-chip plasticity): after
a stage's ``fire`` phase, every core holding plastic synapses sweeps all of them (the trace decays on
every synapse each step, so no synapse can be skipped), in *words* of ``core.dendrite_lanes`` synapses
of one axon, as ``integrate`` reads them, word ``w`` of local axon ``a`` in bank ``(a + w) %
core.synapse_banks``. Each word flows through a line of three stages (:func:`.pipeline.run_line`, the
clocking of the other phases):

1. state read: the word's plastic state, ``ceil(state_bits / weight_bits)`` port-wide reads issued one a
   cycle, holding the bank's port ``reads x core.synapse_read_cycles`` cycles;
2. update on the MAC lanes: ``ceil(dendrite_lanes / mac_lanes)`` cycles (the decay multiply and the
   coincidence add of every synapse of the word, one multiply-add each);
3. write-back of the trace and the effective weight cell: ``ceil(TRACE_BITS / weight_bits) + 1``
   port-wide writes, one a cycle, through the bank's write port (assumption: it does not take the read
   port, a two-port macro).

Between stages the core's synapse and write-back FIFOs (``core.fifo_depth_synapse``,
``core.fifo_depth_writeback``), each word pushed into and popped from both, their high-water marks
booked with the other phases'. The phase costs ``phase_setup_cycles`` and its barrier like the
others; actions: ``synapse_sram`` reads and writes (port-wide words, priced at the port's width), one
``dendrite_mac`` ``mac`` per synapse and the two FIFOs' pushes and pops. The reference engine clocks
the line (:func:`.pipeline.run_line`) and updates each synapse in Python integers; the fast engine runs the same recurrence
(:func:`.kernels.line_item`) in Numba and the update over whole arrays.
"""
from __future__ import annotations

import numba as nb
import numpy as np

from archsim.graph.plasticity import TRACE_BITS, effective_weight_int, state_bits_per_synapse, trace_update_int
from archsim.models.manycore.kernels import line_item, line_state
from archsim.models.manycore.pipeline import count_fifo_traffic, items_through, run_line

PHASE = "learn"
LINE_FIFOS = ("fifo_synapse", "fifo_writeback")   # between state read and update, update and write-back


class StageLearning:
    """A stage's plastic synapses as flat arrays (``entry``: index into the stage's synapse arrays)."""

    def __init__(self, stage, prog):
        entry, k_q, w_q, decay_q, frac, pre, post, owner, banks, core_words = [], [], [], [], [], [], [], [], [], []
        self.cores = []                            # program indices of the stage's cores with plastic synapses
        self.layers = []                           # ... and their layers
        plastic = {name for name in stage.layers
                   if any(p.plasticity is not None for p in prog.qnet.layer(name).projections)}
        base = 0
        for n, core in enumerate(stage.cores):
            base += int(core.indptr[-1])
            if core.layer not in plastic:
                continue
            layer = prog.layers[core.layer]
            qlayer = prog.qnet.layer(core.layer)
            start = base - int(core.indptr[-1])
            words_of_core = []
            for a, source in enumerate(core.axon_source.tolist()):
                found = _plastic_segment(layer, qlayer, source)
                if found is None:
                    continue
                offset, rule, dense = found
                syn = np.arange(int(core.indptr[a]), int(core.indptr[a + 1]))
                if not len(syn):
                    continue
                neurons = core.neurons[core.indices[syn]]
                j = source - offset
                entry.append(syn + start)
                k_q.append(rule.k_q[neurons, j])
                w_q.append(np.asarray(dense.weight, np.int64)[neurons, j])
                decay_q.append(np.full(len(syn), rule.decay_q, np.int64))
                frac.append(np.full(len(syn), rule.trace_frac_bits, np.int64))
                pre.append(np.full(len(syn), stage.input_offset[core.layer] + source, np.int64))
                post.append(stage.output_offset[core.layer] + neurons)
                owner.append(np.full(len(syn), len(self.cores), np.int64))
                lanes = prog.params.dendrite_lanes
                words_of_core.extend((a + w) % prog.params.synapse_banks for w in range(-(-len(syn) // lanes)))
            if words_of_core:
                self.cores.append(stage.core_index[n])
                self.layers.append(core.layer)
                banks.append(words_of_core)
                core_words.append(len(words_of_core))
        cat = lambda parts, dtype=np.int64: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)  # noqa: E731
        self.entry, self.k_q, self.w_q, self.decay_q, self.frac = cat(entry), cat(k_q), cat(w_q), cat(decay_q), cat(frac)
        self.pre, self.post, self.owner = cat(pre), cat(post), cat(owner)
        self.cores = np.asarray(self.cores, np.int64)
        self.banks = banks                                        # per plastic core: the bank of each word
        self.word_ptr = np.concatenate([[0], np.cumsum(core_words)]).astype(np.int64)
        self.word_banks = cat([np.asarray(b, np.int64) for b in banks])
        self.synapses = np.bincount(self.owner, minlength=len(self.cores)).astype(np.int64)
        self.trace = np.zeros(len(self.entry), np.int64)

    def __len__(self) -> int:
        return len(self.entry)


def _plastic_segment(layer, qlayer, source: int):
    """(segment offset, integer rule, integer Dense) of the plastic projection holding input row ``source``."""
    for (_, offset, size, _), proj in zip(layer.segments, qlayer.projections):
        if offset <= source < offset + size:
            return (offset, proj.plasticity, proj.kernel) if proj.plasticity is not None else None
    return None


class Learning:
    """The learning phase of every stage of a program (empty where no projection is plastic)."""

    def __init__(self, prog, stages, engine_name: str):
        self.prog = prog
        self.reference = engine_name == "reference"
        self.stages = [StageLearning(stage, prog) for stage in stages]
        self.active = any(len(s) for s in self.stages)
        p = prog.params
        bits = int(prog.qnet.precision.weight_bits)
        self.reads_per_word = -(-state_bits_per_synapse(bits) // bits)
        self.writes_per_word = -(-TRACE_BITS // bits) + 1
        self.service = (self.reads_per_word, -(-p.dendrite_lanes // p.mac_lanes), self.writes_per_word)
        self.depths = (p.fifo_depths[1], p.fifo_depths[3])
        self.bank_cycles = self.reads_per_word * p.synapse_read_cycles
        self.counts = {"cycles": 0, "synapse_updates": 0, "reads": 0, "writes": 0, "fifo_words": 0}

    def reset(self, machine) -> None:
        """A new sample: traces to zero, every plastic weight cell back to its global weight."""
        for si, s in enumerate(self.stages):
            if len(s):
                s.trace[:] = 0
                machine.stages[si].weights[s.entry] = s.w_q

    def traces(self) -> list[np.ndarray]:
        """Per stage, the current trace of every plastic synapse (``StageLearning.entry`` order)."""
        return [s.trace.copy() for s in self.stages]

    def phase(self, machine, si: int, space: np.ndarray, outputs: np.ndarray) -> None:
        """Update stage ``si``'s plastic synapses from its input ``space`` and its ``outputs`` (after fire),
        write the effective weights back and book the phase (cycles, stalls, actions)."""
        s = self.stages[si]
        if not len(s):
            return
        pre, post = space[s.pre], outputs[s.post]
        if self.reference:
            finish, counts = self._reference(s, pre, post, machine.stages[si].weights)
        else:
            finish, counts = self._fast(s, pre, post, machine.stages[si].weights)
        words = np.diff(s.word_ptr)
        for k, name in enumerate(s.layers):
            machine._count("synapse_sram", "read", int(words[k]) * self.reads_per_word, name)
            machine._count("synapse_sram", "write", int(words[k]) * self.writes_per_word, name)
            machine._count("dendrite_mac", "mac", int(s.synapses[k]), name)
            for fifo in LINE_FIFOS:
                for action in ("push", "pop"):
                    machine._count(fifo, action, int(counts[f"{fifo}_{action}"][k]), name)
        self.counts["synapse_updates"] += len(s)
        self.counts["reads"] += int(words.sum()) * self.reads_per_word
        self.counts["writes"] += int(words.sum()) * self.writes_per_word
        self.counts["fifo_words"] += int(words.sum())           # every word passes both FIFOs
        before = machine.phase_cycles.get(PHASE, 0)
        machine.core_busy[s.cores] += np.asarray(finish, np.int64)
        machine._core_work(PHASE, s.cores, finish, counts)
        self.counts["cycles"] += machine.phase_cycles[PHASE] - before

    def _reference(self, s: StageLearning, pre, post, weights):
        """Each synapse in Python integers, each core's words clocked through the line. Returns (finish
        cycle per plastic core, counts: stalls, FIFO high-water marks and traffic, one entry per core)."""
        p = self.prog.params
        for e in range(len(s)):
            trace = int(s.trace[e])
            trace = ((trace * int(s.decay_q[e])) >> self.prog.frac_bits) + int(s.k_q[e]) * int(pre[e]) * int(post[e])
            trace = min(max(trace, -(1 << (TRACE_BITS - 1))), (1 << (TRACE_BITS - 1)) - 1)
            s.trace[e] = trace
            weight = int(s.w_q[e]) + (trace >> int(s.frac[e]))
            weights[s.entry[e]] = min(max(weight, -self.prog.qnet.qmax), self.prog.qnet.qmax)
        finish = []
        counts = {name: np.zeros(len(s.cores), np.int64)
                  for name in ("full_fifo", "busy_port", *LINE_FIFOS,
                               *(f"{fifo}_{action}" for fifo in LINE_FIFOS for action in ("push", "pop")))}
        for k, banks in enumerate(s.banks):
            line = run_line(banks, p.phase_setup_cycles, self.service, self.depths, bank_stage=0,
                            n_banks=p.synapse_banks, bank_cycles=self.bank_cycles)
            finish.append(line.finish)
            counts["full_fifo"][k], counts["busy_port"][k] = line.full_fifo, line.busy_port
            for f, fifo in enumerate(LINE_FIFOS):
                counts[fifo][k] = line.high_water[f]
            count_fifo_traffic(counts, k, LINE_FIFOS, line)
        return finish, counts

    def _fast(self, s: StageLearning, pre, post, weights):
        """The update over whole arrays (:mod:`archsim.graph.plasticity`'s functions), the lines in Numba;
        returns what :meth:`_reference` does."""
        p = self.prog.params
        s.trace[:] = trace_update_int(s.trace, pre * post, s.k_q, s.decay_q, self.prog.frac_bits)
        weights[s.entry] = effective_weight_int(s.w_q, s.trace, s.frac, self.prog.qnet.qmax)
        stalls = np.zeros((len(s.cores), 2), np.int64)
        high = np.zeros((len(s.cores), len(LINE_FIFOS)), np.int64)
        finish = learn_lines(s.word_ptr, s.word_banks, p.phase_setup_cycles, np.array(self.service, np.int64),
                             np.array(self.depths, np.int64), p.synapse_banks, self.bank_cycles, stalls, high)
        return finish, {"full_fifo": stalls[:, 0], "busy_port": stalls[:, 1],
                        **{fifo: high[:, f] for f, fifo in enumerate(LINE_FIFOS)},
                        **items_through(LINE_FIFOS, np.diff(s.word_ptr))}

    def summary(self, steps_total: int) -> dict:
        """What the Trace's ``details["learning"]`` says: the phase's totals and their mean per step."""
        per_step = {f"{k}_per_step": v / max(steps_total, 1) for k, v in self.counts.items()}
        actions = {"synapse_sram": {"read": self.counts["reads"], "write": self.counts["writes"]},
                   "dendrite_mac": {"mac": self.counts["synapse_updates"]},
                   **{fifo: {"push": self.counts["fifo_words"], "pop": self.counts["fifo_words"]} for fifo in LINE_FIFOS}}
        return {"phase": PHASE, "plastic_synapses": int(sum(len(s) for s in self.stages)),
                "state_bits_per_synapse": state_bits_per_synapse(int(self.prog.qnet.precision.weight_bits)),
                "steps": int(steps_total), "actions": actions, **self.counts, **per_step}


@nb.njit(cache=True)
def learn_lines(word_ptr, banks, start, service, depths, n_banks, bank_cycles, stalls, high):
    """Each plastic core's words through its learning line (bank stage 0): exit cycle per core; its stalls
    and FIFO high-water marks go into ``stalls`` and ``high`` (one row per core)."""
    n_cores = word_ptr.shape[0] - 1
    finish = np.zeros(n_cores, np.int64)
    for k in range(n_cores):
        d_prev, s_hist, pop_ptr, port_free = line_state(service.shape[0], depths, n_banks)
        last = start
        for n in range(word_ptr[k + 1] - word_ptr[k]):
            last = line_item(n, start, banks[word_ptr[k] + n], service, depths, d_prev, s_hist, pop_ptr, port_free,
                             bank_cycles, 0, stalls, high, k)
        finish[k] = last
    return finish
