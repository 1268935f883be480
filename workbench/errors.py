"""Errors that name what is wrong and where, so a researcher can fix the input."""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class for every error the workbench raises on purpose."""


class DataError(WorkbenchError):
    """A problem with one item or one file of a dataset.

    The message always names the item (or file) and the field at fault, e.g.
    ``item 'eng-12' field 'audio': file is truncated (/data/x.flac)``.
    """

    def __init__(self, where: str, field: str, problem: str):
        self.where = where
        self.field = field
        self.problem = problem
        super().__init__(f"{where} field '{field}': {problem}")


class ConfigError(WorkbenchError):
    """A configuration value that cannot work (unknown key, language, split...)."""
