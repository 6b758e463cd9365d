"""FLOAT-kit developer tools (never published): ``float_tools.bench`` (benchmarks), ``float_tools.corpus``
(the offline talking-face corpus builder) and ``float_tools.proof`` (the learning proof's scoring)."""
