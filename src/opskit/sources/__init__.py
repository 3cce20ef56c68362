"""Readers of real-world formats into tidy DataFrames with documented columns (units in names)."""
