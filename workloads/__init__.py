"""The reference trainer (NumPy STBP/BPTT), the model zoo and exported graphs."""
