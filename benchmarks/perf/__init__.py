"""Performance scripts of pytest-albench: what one query, a peer's query and a whole AL run cost.

Why a package: the three commands share their machinery (``common``: machine description, memory
probe, pools) and the test suite imports the peer benchmark's logic, so they are modules imported by
name instead of scripts that put their own folder on ``sys.path``. Run them from the repository root::

    python -m benchmarks.perf.strategy_cost --help
    python -m benchmarks.perf.peers --help
    python -m benchmarks.perf.al_run_time --help

``benchmarks/`` itself stays a namespace package (no ``__init__.py``): the suites in it import
``suite_config`` as a top-level module, which pytest provides by putting ``benchmarks/`` on
``sys.path`` only while that folder is not a package.
"""
