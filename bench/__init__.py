"""Benchmarks: measured numbers for the design's claims, runnable on any dev machine.

Each benchmark starts its own throwaway services (as the test suite does) so a result never
depends on whatever else the machine runs, and writes a JSON file to `bench/results/`.
"""
