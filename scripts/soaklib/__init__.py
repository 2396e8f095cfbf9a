"""The soak and load runs of `scripts/soak`, one module per concern: `common` (paths, settings, statistics,
the bridge process and its containers seen from outside), `kinds` (the runs and their checks), `soak`, `load`.
"""
