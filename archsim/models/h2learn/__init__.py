"""H2Learn-style BPTT training accelerator (Liang et al., arXiv 2107.11746): FE, BE and WUE engines.

Entry points: :func:`simulate` (workload + chip -> Trace), :func:`run_iteration` (also the gradients),
:func:`train` (several iterations applying the weight update). Module map:

Trains LIF layers, ReLU (ANN) layers and an LI read-out, each fed by one or more projections from the
network inputs (spikes or values) or earlier layers, identity shortcuts (residual blocks) and tdBN on a
projection's current (:mod:`.layers`).

* ``params``   the chip config's numbers;       ``layers``  trainable layers in fixed point
* ``fixed``    element-wise fixed-point rules;   ``golden``  the quantised BPTT specification (NumPy)
* ``datapath`` the engines' arithmetic, fast;    ``kernels`` Numba work counters
* ``engines``  work and cycles per engine (fast path; micro-architecture in its docstring)
* ``dataflow`` the per-layer mapping searched under the buffer sizes, and its DRAM traffic by tensor
* ``refstep``  reference steppers, one clock at a time;  ``pipeline`` SimPy engines and DRAM
* ``pipeline_refstep``  the pipeline's reference stepper, one clock at a time
"""
from archsim.models.h2learn.simulate import Iteration, run_iteration, simulate, train

__all__ = ["Iteration", "run_iteration", "simulate", "train"]
