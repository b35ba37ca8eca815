"""GPU model: the same workload as a PyTorch-style SNN framework runs it on a GPU.

``estimate(workload, gpu_chip, iso_node_nm=None)`` lists the kernels (``kernels``), times each on a
roofline with small-problem efficiency curves (``roofline``), checks the memory footprint
(``memory``), and turns time, FLOPs and DRAM bytes into energy (``estimate``). GPU configs live in
``chips/gpu/*.yaml``; ``spec`` derives energy per FLOP and per byte from their technology facts;
``calibration`` loads efficiencies measured by ``bench/gpu_measure.py``.
"""
from archsim.gpu.calibration import Calibration, load_calibration
from archsim.gpu.estimate import GpuEstimate, default_gpu_path, estimate, spec_for
from archsim.gpu.kernels import Kernel, workload_kernels

__all__ = ["Calibration", "GpuEstimate", "Kernel", "default_gpu_path", "estimate", "load_calibration",
           "spec_for", "workload_kernels"]
