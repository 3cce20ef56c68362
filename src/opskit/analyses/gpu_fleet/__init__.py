"""The GPU fleet over a week: hourly rollup, utilization, idle and stalled stretches, cost, waste, advice, verdicts."""
