"""GPU model: the same workload as a PyTorch-style SNN framework runs it on a GPU.

``estimate(workload, gpu_chip, iso_node_nm=None, require_fit=False, framework=None)`` lists the
kernels as an eager (snnTorch-style) or fused (SpikingJelly multi-step) framework launches them
(``kernels``), decides which reads L2 serves (``l2``), times each kernel on a roofline with
small-problem efficiency curves (``roofline``), checks the memory footprint (``memory``), and turns
time, FLOPs, L2 and DRAM bytes into energy (``estimate``; ``best_batch`` finds the batch of least
energy per sample within memory). GPU configs live in ``chips/gpu/*.yaml``; ``energy`` prices each
action from the shared technology table at the GPU's node, ``spec`` turns that into energy per FLOP and
per byte for the configured numerics; ``calibration`` loads efficiencies measured by
``bench/gpu_measure.py``.
"""
from archsim.gpu.calibration import Calibration, load_calibration
from archsim.gpu.estimate import GpuEstimate, default_gpu_path, estimate, spec_for
from archsim.gpu.kernels import Kernel, workload_kernels

__all__ = ["Calibration", "GpuEstimate", "Kernel", "default_gpu_path", "estimate", "load_calibration",
           "spec_for", "workload_kernels"]
