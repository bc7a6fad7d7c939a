"""Benchmark suites shipped with pacabench (installed as the package data ``pacabench.suites``)."""
