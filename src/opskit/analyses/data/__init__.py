"""Data checks: a dataset's files, its integrity against a manifest, and the quality of its columns.

:func:`~opskit.analyses.data.analysis.check_data` composes them from the file scans of
:mod:`opskit.sources.dataset_files`; the rules and thresholds are stated in
:class:`~opskit.analyses.data.settings.DataCheckSettings`.
"""
