"""What can go wrong, said plainly: each error carries the line to print and, where one
exists, what to do about it."""

from __future__ import annotations


class CliError(Exception):
    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class NoCredentials(CliError):
    exit_code = 2


class BadCredentials(CliError):
    exit_code = 3


class Unreachable(CliError):
    exit_code = 4


class ApiError(CliError):
    """The API refused the request: Twilio's error body (code, message, more_info, status)."""

    exit_code = 5

    def __init__(self, status: int, code: int, message: str, more_info: str = "") -> None:
        super().__init__(f"{message} (HTTP {status}, code {code})", more_info)
        self.status = status
        self.code = code
