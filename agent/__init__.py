"""The upwatch agent: runs probes on their intervals and reports results to the collector."""

__version__ = "0.1.0"
