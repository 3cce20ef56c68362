"""Training runs: loss and progress per rank, stalls and throughput, and where to resume."""
