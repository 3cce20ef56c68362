"""Pure computations: DataFrames and thresholds in, result dataclasses out. No rendering, no I/O beyond inputs."""
