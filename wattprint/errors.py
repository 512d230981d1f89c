"""Errors that reach users. A ``UsageError`` becomes one line and exit code 2 on the CLI."""


class WattprintError(Exception):
    """Base class for wattprint's own errors."""


class UsageError(WattprintError, ValueError):
    """Bad input from the user: the message names the problem and how to fix it."""


class BudgetExceeded(WattprintError):
    """Raised in the training loop (at ``run.progress()``) when the predicted total passes a budget."""

    def __init__(self, message: str, prediction=None):
        super().__init__(message)
        self.prediction = prediction
