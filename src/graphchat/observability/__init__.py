"""Prometheus metrics (one registry per app) and the instrumentation of model calls."""
