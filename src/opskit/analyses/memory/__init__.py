"""GPU memory of a training job: the per-GPU estimate from its config, and the remedies ranked by what each saves."""
