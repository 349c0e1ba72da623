"""Operation scripts, recordings, the random generator and the shrinker.

- :mod:`maplevm.scenario.format`: scripts (JSON Lines: header, then one operation a line)
- :mod:`maplevm.scenario.ops`: the table of operations and their fields
- :mod:`maplevm.scenario.flags`: MAP_*/PROT_*/MADV_*/... by name, errno and signal names
- :mod:`maplevm.scenario.recording`: what an executor did, step by step
- :mod:`maplevm.scenario.maps`: /proc/PID/maps and smaps text
- :mod:`maplevm.scenario.executor`: the Executor protocol
- :mod:`maplevm.scenario.compare`: the first divergence between two recordings
- :mod:`maplevm.scenario.generator`: seeded random scripts
- :mod:`maplevm.scenario.shrink`: minimal scripts on which two executors disagree

docs/scenario-format.md is the reference for both file formats.
"""
