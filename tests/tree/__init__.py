"""Ports of the Linux kernel's own maple tree tests (see docs/kernel-tests.md)."""
