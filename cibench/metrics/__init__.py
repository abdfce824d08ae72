"""Turn a run's artifacts into Prometheus metrics: collect, build, write and push."""
