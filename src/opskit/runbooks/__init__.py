"""One module per notebook in ``runbooks/``: ``run(**parameters)`` composes the areas of :mod:`opskit.analyses`
and the readers of :mod:`opskit.sources` into the result the notebook shows."""
