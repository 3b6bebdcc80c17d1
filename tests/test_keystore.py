"""The encrypted keystore, on a real temporary directory."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import nacl.pwhash.argon2id as argon2id
import pytest

from domain.errors import ErrorCode, LedgerError
from streams.keys import Keypair
from streams.keystore import Keystore, default_home

ABANDON_ART = " ".join(["abandon"] * 23 + ["art"])
LEGAL = "legal winner thank year wave sausage worth useful legal winner thank yellow"


@pytest.fixture
def store(tmp_path: Path) -> Keystore:
    # The smallest argon2id limits keep the tests fast; one test below uses the defaults.
    return Keystore(tmp_path, opslimit=argon2id.OPSLIMIT_MIN, memlimit=argon2id.MEMLIMIT_MIN)


def _code(exc: pytest.ExceptionInfo[LedgerError]) -> ErrorCode:
    return exc.value.error_code


def test_create_load_round_trip_with_default_limits(tmp_path: Path) -> None:
    store = Keystore(tmp_path)
    created = store.create("alice", ABANDON_ART, "correct horse")
    loaded = store.load("alice", "correct horse")
    assert loaded.address == created.address == Keypair.from_mnemonic(ABANDON_ART).address
    record = json.loads((tmp_path / "keystore" / "alice.json").read_text())
    assert record["kdf"] == {
        "name": "argon2id",
        "opslimit": argon2id.OPSLIMIT_INTERACTIVE,
        "memlimit": argon2id.MEMLIMIT_INTERACTIVE,
    }
    assert set(record) == {
        "version", "name", "address", "kdf", "cipher", "salt", "nonce", "ciphertext"
    }  # fmt: skip
    assert "abandon" not in json.dumps(record)


def test_file_and_directory_modes(store: Keystore) -> None:
    store.create("alice", ABANDON_ART, "pw")
    assert stat.S_IMODE(os.stat(store.path("alice")).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.dir).st_mode) == 0o700
    assert [p.name for p in store.dir.iterdir()] == ["alice.json"]  # no temp file left


def test_wrong_password(store: Keystore) -> None:
    store.create("alice", ABANDON_ART, "pw")
    with pytest.raises(LedgerError) as exc:
        store.load("alice", "pW")
    assert _code(exc) is ErrorCode.KEYSTORE_PASSWORD


def test_missing_wallet(store: Keystore) -> None:
    for call in (lambda: store.load("bob", "pw"), lambda: store.address_of("bob")):
        with pytest.raises(LedgerError) as exc:
            call()
        assert _code(exc) is ErrorCode.WALLET_NOT_FOUND
    assert not store.exists("bob")


def test_duplicate_wallet(store: Keystore) -> None:
    store.create("alice", ABANDON_ART, "pw")
    with pytest.raises(LedgerError) as exc:
        store.create("alice", LEGAL, "other")
    assert _code(exc) is ErrorCode.WALLET_EXISTS
    assert store.load("alice", "pw").address == Keypair.from_mnemonic(ABANDON_ART).address


@pytest.mark.parametrize("name", ["", "Alice", "a b", "../x", "a.json", "x" * 65, "é"])
def test_bad_names(store: Keystore, name: str) -> None:
    with pytest.raises(LedgerError) as exc:
        store.create(name, ABANDON_ART, "pw")
    assert _code(exc) is ErrorCode.BAD_REQUEST
    assert not store.dir.exists()


def test_bad_mnemonic_is_refused_before_writing(store: Keystore) -> None:
    with pytest.raises(LedgerError) as exc:
        store.create("alice", ABANDON_ART.replace("art", "zoo"), "pw")
    assert _code(exc) is ErrorCode.MNEMONIC_INVALID
    assert not store.exists("alice")


def test_list_and_address_of(store: Keystore) -> None:
    assert store.list() == []
    bob = store.create("bob", LEGAL, "pw")
    alice = store.create("alice", ABANDON_ART, "pw", index=3)
    assert store.list() == [("alice", alice.address), ("bob", bob.address)]
    assert store.address_of("alice") == alice.address
    assert store.exists("alice")
    (store.dir / "junk.json").write_text("{not json")
    (store.dir / "Not A Name.json").write_text("{}")
    assert store.list() == [("alice", alice.address), ("bob", bob.address)]


def test_passphrase_and_index_are_kept(store: Keystore) -> None:
    made = store.create("alice", ABANDON_ART, "pw", passphrase="TREZOR", index=2)
    assert made.address == Keypair.from_mnemonic(ABANDON_ART, "TREZOR", 2).address
    assert store.load("alice", "pw").address == made.address


def test_edited_address_is_detected(store: Keystore) -> None:
    store.create("alice", ABANDON_ART, "pw")
    path = store.path("alice")
    record = json.loads(path.read_text())
    record["address"] = Keypair.from_mnemonic(LEGAL).address
    path.write_text(json.dumps(record))
    with pytest.raises(LedgerError) as exc:
        store.load("alice", "pw")
    assert _code(exc) is ErrorCode.KEYSTORE_CORRUPT


@pytest.mark.parametrize(
    "edit",
    [
        lambda r: r.update(version=2),
        lambda r: r["kdf"].update(memlimit=2**40),
        lambda r: r.update(salt="!!"),
        lambda r: r.update(extra=1),
        lambda r: r.update(name="bob"),
    ],
)
def test_damaged_files(store: Keystore, edit: object) -> None:
    store.create("alice", ABANDON_ART, "pw")
    path = store.path("alice")
    record = json.loads(path.read_text())
    edit(record)  # type: ignore[operator]
    path.write_text(json.dumps(record))
    with pytest.raises(LedgerError) as exc:
        store.load("alice", "pw")
    assert _code(exc) is ErrorCode.KEYSTORE_CORRUPT


def test_default_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HIVELEDGER_HOME", str(tmp_path / "h"))
    assert default_home() == tmp_path / "h"
    assert Keystore().dir == tmp_path / "h" / "keystore"
    monkeypatch.delenv("HIVELEDGER_HOME")
    assert default_home() == Path.home() / ".hiveledger"
