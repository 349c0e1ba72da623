"""Benchmarks: programs that print numbers (``python -m maplevm.bench tree|mm``)."""
