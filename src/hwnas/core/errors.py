"""Exceptions users see. Each message names the field, row or file at fault and what is allowed."""


class HwnasError(Exception):
    """Base class of every error hwnas raises on purpose."""


class ConfigError(HwnasError, ValueError):
    """A configuration value is missing or not allowed."""


class InvalidArchitecture(HwnasError, ValueError):
    """An architecture is not a member of its search space."""


class DataError(HwnasError, ValueError):
    """A data file (table, dataset, checkpoint) is malformed."""


class StudyMismatch(HwnasError):
    """A study file was created with another configuration."""


class EvaluationFailed(HwnasError):
    """One evaluation could not produce finite metrics; the study records it as failed and goes on."""


class CostModelError(HwnasError, ValueError):
    """A cost model cannot cost a layer or a hardware description is impossible."""
