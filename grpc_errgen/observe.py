"""Per-call logging and Prometheus metrics. (Being written: see issue 6.)"""
