"""Our own fuzz harness: hostile variants of every input format, checked against the load's promises.

``mutate`` makes deterministic cases from valid seeds (``seeds``), ``worker`` loads one case
and classifies the outcome, ``runner`` runs cases in a watched worker process (30 s timeout,
2 GB memory ceiling). ``test_fuzz_quick.py`` runs ~300 cases in the test suite;
``python benchmarks/fuzz.py --n 5000`` is the full run.
"""
