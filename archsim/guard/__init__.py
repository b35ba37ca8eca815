"""Guarded loading: every file archsim reads comes in through here, checked before it is trusted.

Each loader checks size and structure before anything large is allocated and turns every way a file
can be wrong (truncated, wrong encoding, hostile nesting or aliases, NaN or infinite numbers, absurd
shapes) into one :class:`~archsim.errors.UserError` line naming the file, the key or node, what was
found and what is allowed:

- :mod:`~archsim.guard.yaml_files`: chip, technology, sweep and mapping YAML;
- :mod:`~archsim.guard.npy_files`: ``.npy`` inputs (header first, ``allow_pickle=False``);
- :mod:`~archsim.guard.json_files`: result JSON and stats JSON (NaN and Infinity refused);
- :mod:`~archsim.guard.nir_files`: NIR (HDF5) structure before ``nir.read``, values after it;
- :mod:`~archsim.guard.memory`: the memory a run will take, refused against what the machine has;
- :mod:`~archsim.guard.outputs`: output paths checked before the work starts.
"""
