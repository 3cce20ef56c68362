"""Monitoring: alert rules and dashboards from opskit's thresholds, run results as metrics, the alert receiver."""
