"""Errors of the JetStream helpers, with the server's error codes callers react to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Server error codes (nats-server errors.json).
ERR_WRONG_LAST_SEQUENCE = 10071  # an expected-last-(subject-)sequence check failed
ERR_BATCH_SAME_SUBJECT_EXPECTED = 10164  # expected-last-subject-seq on a repeated subject
ERR_STREAM_NAME_IN_USE = 10058  # stream exists with another configuration
ERR_STREAM_NOT_FOUND = 10059
ERR_BATCH_UNSUPPORTED_HEADER = 10177  # Nats-Msg-Id inside an atomic batch
ERR_DUPLICATE_MSG_ID = 10201
ERR_BATCH_TOO_LARGE = 10199  # more messages than the server's limits.batch.max_msgs


class JetStreamError(Exception):
    """A JetStream request or publish failed. ``err_code`` is the server's code, or 0."""

    def __init__(self, description: str, *, code: int = 0, err_code: int = 0) -> None:
        super().__init__(f"{description} (code {code}, err_code {err_code})")
        self.description = description
        self.code = code
        self.err_code = err_code

    @classmethod
    def from_error(cls, error: Mapping[str, Any]) -> JetStreamError:
        return cls(
            str(error.get("description", "")),
            code=int(error.get("code", 0)),
            err_code=int(error.get("err_code", 0)),
        )


class JetStreamApiError(JetStreamError):
    """An API request (``$JS.API...``) was refused."""


class BatchRefusedError(JetStreamError):
    """The server refused an atomic batch: nothing of it was stored."""


class JetStreamTimeoutError(JetStreamError, TimeoutError):
    """No reply in time."""


class BatchOutcomeUnknownError(JetStreamTimeoutError):
    """No reply to a batch commit in time: the batch may or may not be stored."""
