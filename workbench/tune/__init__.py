"""Equal tuning budget: ``python -m workbench.tune -c <sweep file> --trials N`` (see :mod:`workbench.tune.study`).

Kept free of imports: a trial's program imports :mod:`workbench.tune.pruning` through its
command line, and should not load the tuner with it.
"""
