"""Incidents: a timeline merged from events and findings, key moments, derived times, review completeness."""
