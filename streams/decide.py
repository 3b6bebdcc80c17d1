"""What the sequencer decides for one intake message: a transaction record, and the events
of an accepted transaction on the book's aggregates."""

from __future__ import annotations

from domain.book import Book
from domain.dispatch import execute
from domain.errors import LedgerError
from domain.transaction import ACCEPTED, REJECTED, TxRecord
from domain.wallet import Wallet
from streams.envelope import OpenedTx
from streams.intake import IntakeMessage, Refusal, recorded_envelope, to_command


def wallet_ids(checked: list[OpenedTx | Refusal]) -> list[str]:
    """The wallets a batch's checked transactions touch (signers and recipients)."""
    ids = []
    for item in checked:
        if isinstance(item, OpenedTx):
            ids.append(Wallet.create_id(item.body.signer))
            to = getattr(item.body, "to", None)
            if to is not None:
                ids.append(Wallet.create_id(to))
    return ids


def decide(
    message: IntakeMessage, item: OpenedTx | Refusal, book: Book, sequenced_at: int
) -> TxRecord:
    """Run one checked transaction on ``book`` and return its record: accepted, or
    rejected with the code of its refusal (a refusal changes nothing in ``book``)."""
    common = {
        "txid": item.txid,
        "envelope": recorded_envelope(message.data),
        "intake_seq": message.seq,
        "sequenced_at": sequenced_at,
    }
    if isinstance(item, Refusal):
        return TxRecord.decided(
            status=REJECTED,
            kind=item.kind,
            signer="",
            nonce=0,
            code=item.error.code,
            reason=item.error.reason,
            **common,
        )
    body = item.body
    kind = body.kind
    try:
        execute(to_command(item, sequenced_at), book)
    except LedgerError as error:
        return TxRecord.decided(
            status=REJECTED,
            kind=kind,
            signer=body.signer,
            nonce=body.nonce,
            code=error.code,
            reason=error.reason,
            **common,
        )
    return TxRecord.decided(
        status=ACCEPTED, kind=kind, signer=body.signer, nonce=body.nonce, **common
    )
