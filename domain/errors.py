"""Stable error codes. A code, once published, never changes meaning or number.

Every refusal anywhere in hiveledger (gateway, sequencer, domain) carries one of these:
the string is what clients match on; the number is what JSON-RPC error objects carry.
"""

from __future__ import annotations

from enum import Enum


class ErrorCode(Enum):
    """(string code, number, short description)."""

    # Envelope and signature (1000s)
    ENVELOPE_MALFORMED = ("envelope_malformed", 1001, "not a DSSE envelope")
    PAYLOAD_TYPE_UNSUPPORTED = ("payload_type_unsupported", 1002, "unknown payloadType")
    SIGNATURE_INVALID = ("signature_invalid", 1003, "signature does not verify")
    SIGNER_MISMATCH = ("signer_mismatch", 1004, "keyid does not match the body's signer")
    BODY_TOO_LARGE = ("body_too_large", 1005, "body exceeds the size limit")
    # Body decoding (1100s)
    BODY_MALFORMED = ("body_malformed", 1101, "body is not a valid JSON object")
    KIND_UNKNOWN = ("kind_unknown", 1102, "unknown transaction kind")
    FIELD_MISSING = ("field_missing", 1103, "a required field is missing")
    FIELD_UNKNOWN = ("field_unknown", 1104, "an unknown field is present")
    FIELD_INVALID = ("field_invalid", 1105, "a field has the wrong type or value")
    AMOUNT_INVALID = ("amount_invalid", 1106, "amount must be an integer in 1..2^63-1")
    ADDRESS_INVALID = ("address_invalid", 1107, "malformed address or bad checksum")
    CHAIN_ID_WRONG = ("chain_id_wrong", 1108, "transaction is for another chain")
    # Ledger rules (1200s)
    NONCE_STALE = ("nonce_stale", 1201, "nonce already used")
    NONCE_GAP = ("nonce_gap", 1202, "nonce skips ahead; it must rise by exactly one")
    INSUFFICIENT_FUNDS = ("insufficient_funds", 1203, "balance too low")
    EXPIRED = ("expired", 1204, "transaction expired before it was sequenced")
    NOT_TREASURY = ("not_treasury", 1205, "only the treasury may mint")
    SELF_TRANSFER = ("self_transfer", 1206, "sender and recipient are the same")
    SUPPLY_OVERFLOW = ("supply_overflow", 1207, "total supply would exceed 2^63-1")
    BALANCE_OVERFLOW = ("balance_overflow", 1208, "balance would exceed 2^63-1")
    # Gateway (1300s)
    BAD_REQUEST = ("bad_request", 1301, "the request is malformed")
    NOT_FOUND = ("not_found", 1302, "no such object")
    SQL_REFUSED = ("sql_refused", 1303, "only read-only SQL is allowed")
    SQL_ERROR = ("sql_error", 1304, "the SQL statement failed")
    SQL_TIMEOUT = ("sql_timeout", 1305, "the SQL statement ran out of time")
    TIMEOUT = ("timeout", 1306, "no outcome within the wait time")
    UNAVAILABLE = ("unavailable", 1307, "the node cannot take this request now")
    AUDIT_FAILED = ("audit_failed", 1308, "the ledger breaks a rule; see the message")
    # Keys (1400s)
    MNEMONIC_INVALID = ("mnemonic_invalid", 1401, "unknown word or bad checksum")
    KEYSTORE_PASSWORD = ("keystore_password", 1402, "wrong keystore password")
    WALLET_NOT_FOUND = ("wallet_not_found", 1403, "no such wallet in the keystore")
    WALLET_EXISTS = ("wallet_exists", 1404, "a wallet with that name exists")
    KEYSTORE_CORRUPT = ("keystore_corrupt", 1405, "the keystore file is damaged or edited")
    # Task marketplace (1500s)
    TASK_NOT_FOUND = ("task_not_found", 1501, "no such task")
    TASK_NOT_OPEN = ("task_not_open", 1502, "the task no longer takes this action")
    DEADLINE_PASSED = ("deadline_passed", 1503, "the task's deadline has passed")
    DEADLINE_INVALID = ("deadline_invalid", 1504, "the deadline must lie in the future")
    TASK_FULL = ("task_full", 1505, "the task has its maximum of participants")
    ALREADY_JOINED = ("already_joined", 1506, "this miner already joined the task")
    STAKE_TOO_LOW = ("stake_too_low", 1507, "the stake is below what the task requires")
    MINER_NOT_REGISTERED = ("miner_not_registered", 1508, "register as a miner first")
    ALREADY_REGISTERED = ("already_registered", 1509, "this address is already registered")
    NOT_PARTICIPANT = ("not_participant", 1510, "join the task before submitting")
    ALREADY_SUBMITTED = ("already_submitted", 1511, "one submission per participant per task")
    CONTENT_HASH_MISMATCH = ("content_hash_mismatch", 1512, "content does not match its hash")
    NOT_PUBLISHER = ("not_publisher", 1513, "only the task's publisher may do this")
    HAS_SUBMISSIONS = ("has_submissions", 1514, "a task with submissions cannot be cancelled")
    NOT_VALIDATOR = ("not_validator", 1515, "register as a validator first")
    SUBMISSION_NOT_FOUND = ("submission_not_found", 1516, "no such submission")
    SELF_VOTE = ("self_vote", 1517, "a validator cannot vote on its own submission")
    ALREADY_VOTED = ("already_voted", 1518, "one vote per validator per submission")
    TASK_SETTLED = ("task_settled", 1519, "the task is settled")
    FRAUD_NOT_FOUND = ("fraud_not_found", 1520, "no such fraud alert")
    ALREADY_CONFIRMED = ("already_confirmed", 1521, "this validator already confirmed it")
    FRAUD_CLOSED = ("fraud_closed", 1522, "the fraud alert is already decided")
    SELF_REPORT = ("self_report", 1523, "a fraud alert cannot accuse its reporter")

    @property
    def code(self) -> str:
        return self.value[0]

    @property
    def number(self) -> int:
        return self.value[1]

    @property
    def description(self) -> str:
        return self.value[2]

    @classmethod
    def from_code(cls, code: str) -> ErrorCode:
        for member in cls:
            if member.code == code:
                return member
        raise KeyError(code)


class LedgerError(Exception):
    """A refusal with a stable code and a human reason."""

    def __init__(self, code: ErrorCode, reason: str = "") -> None:
        super().__init__(f"{code.code}: {reason or code.description}")
        self.error_code = code
        self.reason = reason or code.description

    def __reduce__(self) -> tuple[type[LedgerError], tuple[ErrorCode, str]]:
        """Pickled with its code and reason (refusals cross to the sequencer's process)."""
        return (type(self), (self.error_code, self.reason))

    @property
    def code(self) -> str:
        return self.error_code.code
