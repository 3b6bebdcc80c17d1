"""The local keystore: each wallet's mnemonic, encrypted with a password, one file each.

``$HIVELEDGER_HOME/keystore/<name>.json`` (HIVELEDGER_HOME defaults to ~/.hiveledger),
mode 0600 in a 0700 directory. The file::

    {"version": 1, "name": "alice", "address": "hive1...",
     "kdf": {"name": "argon2id", "opslimit": 2, "memlimit": 67108864},
     "cipher": "xsalsa20-poly1305", "salt": b64, "nonce": b64, "ciphertext": b64}

key = argon2id(password, salt, opslimit, memlimit) (libsodium's crypto_pwhash, PyNaCl's
interactive limits by default; the limits used are stored so they can change later),
ciphertext = SecretBox(key).encrypt(plaintext, nonce). The plaintext is the JSON
``{"mnemonic": ..., "passphrase": ..., "index": ...}``: the mnemonic, plus the optional
BIP39 passphrase and account index needed to derive the same key again. The address is
stored in clear so that ``list``/``address_of`` need no password; ``load`` checks that
the decrypted mnemonic derives that address, so an edited file cannot swap keys.
Password prompting is the caller's job.
"""

from __future__ import annotations

import base64
import logging
import os
import re
from pathlib import Path

import msgspec
import nacl.exceptions
import nacl.pwhash.argon2id as argon2id
import nacl.utils
from nacl.secret import SecretBox

from domain.errors import ErrorCode, LedgerError
from streams.address import is_address
from streams.keys import Keypair, check_mnemonic

log = logging.getLogger(__name__)

VERSION = 1
HOME_ENV = "HIVELEDGER_HOME"
NAME_RE = re.compile(r"[a-z0-9_-]{1,64}")
KDF_NAME = "argon2id"
CIPHER_NAME = "xsalsa20-poly1305"


def default_home() -> Path:
    """$HIVELEDGER_HOME, or ~/.hiveledger."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".hiveledger").expanduser()


class KdfParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    opslimit: int
    memlimit: int


class KeystoreFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: int
    name: str
    address: str
    kdf: KdfParams
    cipher: str
    salt: str
    nonce: str
    ciphertext: str


class Secret(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    mnemonic: str
    passphrase: str = ""
    index: int = 0


class Keystore:
    """Encrypted wallets under ``home/keystore``."""

    def __init__(
        self,
        home: Path | str | None = None,
        *,
        opslimit: int = argon2id.OPSLIMIT_INTERACTIVE,
        memlimit: int = argon2id.MEMLIMIT_INTERACTIVE,
    ) -> None:
        self.home = Path(home).expanduser() if home is not None else default_home()
        self.dir = self.home / "keystore"
        self.opslimit = opslimit
        self.memlimit = memlimit

    def path(self, name: str) -> Path:
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            raise LedgerError(
                ErrorCode.BAD_REQUEST,
                f"wallet name {name!r} is not allowed: use 1 to 64 of a-z, 0-9, _ and -",
            )
        return self.dir / f"{name}.json"

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def create(
        self, name: str, mnemonic: str, password: str, *, passphrase: str = "", index: int = 0
    ) -> Keypair:
        """Encrypt and store a wallet; returns its keypair. WALLET_EXISTS if the name is taken."""
        path = self.path(name)
        if path.exists():
            raise LedgerError(ErrorCode.WALLET_EXISTS, f"wallet {name!r} exists in {self.dir}")
        words = check_mnemonic(mnemonic)
        keypair = Keypair.from_mnemonic(words, passphrase, index)
        salt = nacl.utils.random(argon2id.SALTBYTES)
        nonce = nacl.utils.random(SecretBox.NONCE_SIZE)
        box = SecretBox(self._key(password, salt, self.opslimit, self.memlimit))
        plaintext = msgspec.json.encode(Secret(words, passphrase, index))
        record = KeystoreFile(
            version=VERSION,
            name=name,
            address=keypair.address,
            kdf=KdfParams(KDF_NAME, self.opslimit, self.memlimit),
            cipher=CIPHER_NAME,
            salt=_b64(salt),
            nonce=_b64(nonce),
            ciphertext=_b64(box.encrypt(plaintext, nonce).ciphertext),
        )
        self._write_new(path, msgspec.json.format(msgspec.json.encode(record)) + b"\n")
        return keypair

    def load(self, name: str, password: str) -> Keypair:
        """Decrypt a wallet. KEYSTORE_PASSWORD if the password is wrong."""
        record = self._read(name)
        try:
            salt = base64.b64decode(record.salt, validate=True)
            nonce = base64.b64decode(record.nonce, validate=True)
            ciphertext = base64.b64decode(record.ciphertext, validate=True)
            key = self._key(password, salt, record.kdf.opslimit, record.kdf.memlimit)
        except (ValueError, nacl.exceptions.CryptoError) as exc:
            raise _corrupt(name, f"bad salt, nonce or kdf limits ({exc})") from None
        try:
            plaintext = SecretBox(key).decrypt(ciphertext, nonce)
        except nacl.exceptions.CryptoError:
            raise LedgerError(
                ErrorCode.KEYSTORE_PASSWORD, f"wrong password for wallet {name!r}"
            ) from None
        try:
            secret = msgspec.json.decode(plaintext, type=Secret)
            keypair = Keypair.from_mnemonic(secret.mnemonic, secret.passphrase, secret.index)
        except (msgspec.DecodeError, LedgerError, ValueError) as exc:
            raise _corrupt(name, f"the decrypted secret is unusable ({exc})") from None
        if keypair.address != record.address:
            raise _corrupt(name, "its address does not match its key (the file was edited)")
        return keypair

    def address_of(self, name: str) -> str:
        """The wallet's address, without the password."""
        return self._read(name).address

    def list(self) -> list[tuple[str, str]]:
        """(name, address) of every readable wallet, by name; damaged files are skipped."""
        if not self.dir.is_dir():
            return []
        found: list[tuple[str, str]] = []
        for path in sorted(self.dir.glob("*.json")):
            if not NAME_RE.fullmatch(path.stem):
                continue
            try:
                found.append((path.stem, self._read(path.stem).address))
            except LedgerError as exc:
                log.warning("skipping %s: %s", path, exc.reason)
        return found

    # ---- internals -------------------------------------------------------------------

    @staticmethod
    def _key(password: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
        return argon2id.kdf(
            SecretBox.KEY_SIZE,
            password.encode("utf-8"),
            salt,
            opslimit=opslimit,
            memlimit=memlimit,
        )

    def _read(self, name: str) -> KeystoreFile:
        path = self.path(name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise LedgerError(
                ErrorCode.WALLET_NOT_FOUND, f"no wallet {name!r} in {self.dir}"
            ) from None
        try:
            record = msgspec.json.decode(data, type=KeystoreFile)
        except msgspec.DecodeError as exc:
            raise _corrupt(name, f"not a keystore file ({exc})") from None
        if record.version != VERSION or record.kdf.name != KDF_NAME:
            raise _corrupt(name, f"version {record.version}/{record.kdf.name} is not supported")
        kdf = record.kdf
        if not (
            argon2id.OPSLIMIT_MIN <= kdf.opslimit <= argon2id.OPSLIMIT_SENSITIVE
            and argon2id.MEMLIMIT_MIN <= kdf.memlimit <= argon2id.MEMLIMIT_SENSITIVE
        ):
            raise _corrupt(name, f"kdf limits {kdf.opslimit}/{kdf.memlimit} are out of range")
        if record.cipher != CIPHER_NAME or record.name != name or not is_address(record.address):
            raise _corrupt(name, "its name, cipher or address field is wrong")
        return record

    def _write_new(self, path: Path, data: bytes) -> None:
        """Write ``path`` atomically (temp file, fsync, link): never half a file, never
        over an existing wallet, readable only by its owner."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{nacl.utils.random(4).hex()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                os.chmod(tmp, 0o600)
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise LedgerError(
                    ErrorCode.WALLET_EXISTS, f"wallet {path.stem!r} exists in {self.dir}"
                ) from None
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(self.dir)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _corrupt(name: str, why: str) -> LedgerError:
    return LedgerError(ErrorCode.KEYSTORE_CORRUPT, f"keystore file of wallet {name!r}: {why}")


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
