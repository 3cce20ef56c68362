"""Serving latency against its SLO: quantiles, error budget, burn rate, regime changes, load, slow requests, causes."""
