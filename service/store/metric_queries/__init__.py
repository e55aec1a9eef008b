"""The SQL behind each metric of the catalogue, one module per family of metrics.

Every ``measure_*`` function builds one grouped statement over all requested periods,
executes it once and shapes its rows (one per subject and period, or per stage for
``stage_duration``) into a :data:`~rules.metrics.MetricSeries`.
"""
