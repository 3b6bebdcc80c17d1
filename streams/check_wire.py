"""The check stage's answers on its pipe: msgpack with typed decoding.

Pickling a batch of checked transactions (msgspec Structs, an exception per refusal) cost
the check process ~20 µs a transaction and the sequencer ~10 to unpickle: the sequencer
is the ledger's one serial stage, and the check process the stage it waits for. As
msgpack through msgspec each side pays a few µs, and the signed body is decoded back
into its own Struct type, its field constraints checked again on the way.

An accepted envelope crosses once: the intake message's data is the envelope it opened.
"""

from __future__ import annotations

import msgspec

from domain.errors import ErrorCode, LedgerError
from streams.envelope import OpenedTx
from streams.intake import IntakeMessage, Refusal
from streams.wire import TxBody


class _Opened(msgspec.Struct, array_like=True, tag="o"):
    seq: int
    subject: str
    txid: str
    signer: str
    body: TxBody  # type: ignore[valid-type]
    body_bytes: bytes
    envelope: bytes


class _Refused(msgspec.Struct, array_like=True, tag="r"):
    seq: int
    subject: str
    data: bytes
    txid: str
    kind: str
    code: str  # the ErrorCode's name
    reason: str


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(list[_Opened | _Refused]).decode


def encode_checked(messages: list[IntakeMessage], checked: list[OpenedTx | Refusal]) -> bytes:
    assert len(messages) == len(checked)
    items: list[_Opened | _Refused] = []
    for message, item in zip(messages, checked, strict=True):
        if isinstance(item, OpenedTx):
            assert item.envelope == message.data
            items.append(
                _Opened(
                    message.seq,
                    message.subject,
                    item.txid,
                    item.signer,
                    item.body,
                    item.body_bytes,
                    item.envelope,
                )
            )
        else:
            error = item.error
            items.append(
                _Refused(
                    message.seq,
                    message.subject,
                    message.data,
                    item.txid,
                    item.kind,
                    error.error_code.name,
                    error.reason,
                )
            )
    return _encode(items)


def decode_checked(data: bytes) -> tuple[list[IntakeMessage], list[OpenedTx | Refusal]]:
    messages: list[IntakeMessage] = []
    checked: list[OpenedTx | Refusal] = []
    for item in _decode(data):
        if type(item) is _Opened:
            messages.append(IntakeMessage(item.seq, item.subject, item.envelope))
            checked.append(
                OpenedTx(item.txid, item.signer, item.body, item.body_bytes, item.envelope)
            )
        else:
            messages.append(IntakeMessage(item.seq, item.subject, item.data))
            error = LedgerError(ErrorCode[item.code], item.reason)
            checked.append(Refusal(item.txid, item.kind, error))
    return messages, checked
