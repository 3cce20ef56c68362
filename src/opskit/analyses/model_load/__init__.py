"""Why a model does not load: file integrity, shard sets, pickle safety, CUDA/driver compatibility, state-dict keys."""
