"""What every script in ``benchmarks/perf`` shares, kept once so that they measure alike.

- ``machine``: the lines that describe the machine and its load, and the torch warm-up;
- ``memory``: the peak-extra-memory probe (RSS sampling, ``ru_maxrss``, CUDA allocator peak);
- ``pools``: the embedded pool every script measures on, the synthetic fallback, the labeled draw
  and the command-line options that choose them.
"""
