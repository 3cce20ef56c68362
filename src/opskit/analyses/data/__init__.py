"""Data sets: integrity against a manifest, schema and quality checks, layout advice."""
