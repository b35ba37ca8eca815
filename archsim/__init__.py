"""archsim: a cycle-accurate simulator of neuromorphic hardware.

The command line (``archsim <verb>``) and the Python functions in :mod:`archsim.api` offer the same
verbs: train, info, map, run, sweep, report, demo.
"""
__version__ = "0.1.0"
