"""Faithful HTTP emulators of the vendors' APIs, used by tests, benchmarks and the demo."""
