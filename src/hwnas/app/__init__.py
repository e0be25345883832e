"""The application layer: the one config schema (:mod:`hwnas.app.schema`), the only place a config
becomes objects (:mod:`hwnas.app.components`), the jobs (table search, train-once, bench-table) and
the public Python API (:mod:`hwnas.app.api`, re-exported by :mod:`hwnas`)."""
