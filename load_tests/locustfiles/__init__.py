"""Locust scenarios of ``load_tests/run_load.py`` (one file per scenario)."""
