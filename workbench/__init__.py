"""Shared core of xling-workbench: items, protocols, metrics, predictions, sweeps, reports.

Speech, vision and the cascade all build on these modules, so that both paths of the
comparison (end-to-end and cascade) read the same splits and write the same records.
"""

__version__ = "0.1.0"
