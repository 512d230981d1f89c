"""Thin adapters over ``Run``: framework callbacks, Jupyter, Prometheus."""
