"""Networks: the internal graph (network), NIR in and out (nir_io), chip integers (quantize), the
functional simulator (functional), workloads (workload) and summaries (describe)."""
