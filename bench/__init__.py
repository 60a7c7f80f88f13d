"""Benchmarks of image preparation (fetch → inspect → convert) against the loopback server."""
