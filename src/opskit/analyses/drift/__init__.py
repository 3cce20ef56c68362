"""Data and model drift: reference profiles, bins, PSI and companion tests, windows, prediction accuracy."""
