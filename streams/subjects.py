"""Aggregate ids <-> LEDGER subjects. One subject per aggregate.

- str id ``"<type>.<key>"`` (``wallet.hive1qx...``, ``tx.<hex>``, ``chain.dev``) maps to
  ``<prefix>.<type>.<key>``; both tokens match ``[A-Za-z0-9_-]+``, the type does not start
  with ``_`` and is not ``uuid``.
- UUID id maps to ``<prefix>.uuid.<32 hex>`` and reads back as a ``UUID``.
- Subjects ``<prefix>._<anything>`` are reserved for the ledger's own records
  (``<prefix>._tracking.<application name>``); they are never aggregates.

Any other id is refused with ``InvalidAggregateIdError``: there is no lossless way to fit
arbitrary text into a NATS subject token, and a lossy one would merge aggregates.
"""

from __future__ import annotations

import re
from uuid import UUID

from eventsourcing.persistence import ProgrammingError

TOKEN = r"[A-Za-z0-9_-]+"
_STR_ID = re.compile(rf"(?P<type>[A-Za-z0-9-][A-Za-z0-9_-]*)\.(?P<key>{TOKEN})")
_TOKEN = re.compile(TOKEN)
UUID_TYPE = "uuid"
TRACKING = "_tracking"


class InvalidAggregateIdError(ProgrammingError, ValueError):
    """The id cannot be stored as one LEDGER subject."""


def aggregate_subject(prefix: str, originator_id: UUID | str) -> str:
    """The subject that holds the events of ``originator_id``."""
    if isinstance(originator_id, UUID):
        return f"{prefix}.{UUID_TYPE}.{originator_id.hex}"
    if isinstance(originator_id, str):
        match = _STR_ID.fullmatch(originator_id)
        if match and match["type"] != UUID_TYPE:
            return f"{prefix}.{originator_id}"
    raise InvalidAggregateIdError(
        f"aggregate id {originator_id!r} is neither a UUID nor '<type>.<key>' with tokens "
        f"matching {TOKEN}, type not starting with '_' and not '{UUID_TYPE}'"
    )


def originator_id_of(prefix: str, subject: str) -> UUID | str:
    """The aggregate id stored under ``subject`` (the inverse of ``aggregate_subject``)."""
    rest = subject[len(prefix) + 1 :]
    if rest.startswith(UUID_TYPE + "."):
        return UUID(hex=rest[len(UUID_TYPE) + 1 :])
    return rest


def is_reserved(prefix: str, subject: str) -> bool:
    """True for the ledger's own records (``<prefix>._...``), which are not events."""
    return subject.startswith(prefix, 0) and subject.startswith("._", len(prefix))


def tracking_subject(prefix: str, application_name: str) -> str:
    """Where the tracking records of upstream ``application_name`` go."""
    if not _TOKEN.fullmatch(application_name):
        raise InvalidAggregateIdError(
            f"application name {application_name!r} must match {TOKEN} to be a subject token"
        )
    return f"{prefix}.{TRACKING}.{application_name}"
