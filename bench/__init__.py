"""Benchmarks that print ratios measured side by side in one run (`make bench`, `python -m bench`)."""
