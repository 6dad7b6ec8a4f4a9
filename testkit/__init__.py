"""Launchers shared by the tests and the benchmarks: real Mosquitto and PostgreSQL on free
ports in temporary folders, and the gateway as an in-process app or its own process.

It sits above `gateway` (it starts it) and below `tests` and `bench` (both use it), so
neither of those imports the other.
"""
