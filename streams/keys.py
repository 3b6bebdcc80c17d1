"""Keys: BIP39 mnemonics, SLIP-0010 Ed25519 derivation, and a signing Keypair.

Derivation, step by step (docs/PROTOCOL.md repeats it for other languages):

1. The mnemonic is normalised (NFKD, lowercase, single spaces), every word is checked
   against the English BIP39 word list and the checksum is checked (``Mnemonic.check``)
   before anything else happens.
2. seed = PBKDF2-HMAC-SHA512(password = mnemonic, salt = "mnemonic" + passphrase,
   2048 iterations, 64 bytes) -- plain BIP39 (``Mnemonic.to_seed``).
3. SLIP-0010 for ed25519: I = HMAC-SHA512(key = b"ed25519 seed", data = seed); the
   master key is I[:32], the chain code I[32:]. Each child is hardened:
   I = HMAC-SHA512(key = chain code, data = 0x00 || key || ser32(i + 2^31)).
4. The path is m/44'/8545'/0'/0'/<index>' (44' = BIP-44 purpose, 8545' = hiveledger's
   own coin type, then account 0', change 0', and the account index, 0 by default).
   Every level is hardened because SLIP-0010 ed25519 has no public derivation.
5. The 32-byte key at the end is the Ed25519 private seed (RFC 8032); its public key
   gives the address (streams.address).
"""

from __future__ import annotations

import difflib
import hashlib
import hmac
import unicodedata
from functools import cache

from mnemonic import Mnemonic
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from domain.errors import ErrorCode, LedgerError
from streams.address import decode_address, encode_address

HARDENED = 0x80000000
PURPOSE = 44
COIN_TYPE = 8545
PATH_PREFIX = (PURPOSE, COIN_TYPE, 0, 0)
MAX_INDEX = HARDENED - 1
WORD_COUNTS = (12, 15, 18, 21, 24)
SLIP10_CURVE_KEY = b"ed25519 seed"


@cache
def _bip39() -> Mnemonic:
    return Mnemonic("english")


def derivation_path(index: int = 0) -> str:
    """The path used for account ``index``, e.g. "m/44'/8545'/0'/0'/0'"."""
    return "m/" + "/".join(f"{i}'" for i in (*PATH_PREFIX, _check_index(index)))


def _check_index(index: int) -> int:
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= MAX_INDEX:
        raise ValueError(f"account index must be an int in 0..{MAX_INDEX}, not {index!r}")
    return index


def normalize_mnemonic(words: str) -> str:
    """NFKD, lowercase, single spaces: the form that BIP39 hashes."""
    return " ".join(unicodedata.normalize("NFKD", words).lower().split())


def check_mnemonic(words: str) -> str:
    """Return the normalised mnemonic, or raise LedgerError(MNEMONIC_INVALID) saying why."""
    normal = normalize_mnemonic(words)
    word_list = normal.split(" ") if normal else []
    bip39 = _bip39()
    known = set(bip39.wordlist)
    for position, word in enumerate(word_list, start=1):
        if word not in known:
            close = difflib.get_close_matches(word, bip39.wordlist, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise LedgerError(
                ErrorCode.MNEMONIC_INVALID,
                f"word {position}, {word!r}, is not in the BIP39 English word list{hint}",
            )
    if len(word_list) not in WORD_COUNTS:
        raise LedgerError(
            ErrorCode.MNEMONIC_INVALID,
            f"a mnemonic has 12, 15, 18, 21 or 24 words, not {len(word_list)}",
        )
    if not bip39.check(normal):
        raise LedgerError(
            ErrorCode.MNEMONIC_INVALID,
            "checksum does not match: a word is wrong or two words are swapped",
        )
    return normal


def mnemonic_to_seed(words: str, passphrase: str = "") -> bytes:
    """The 64-byte BIP39 seed, after checking the mnemonic."""
    return Mnemonic.to_seed(check_mnemonic(words), passphrase)


def slip10_master(seed: bytes) -> tuple[bytes, bytes]:
    """SLIP-0010 ed25519 master (key, chain code) from a 16..64-byte seed."""
    if not 16 <= len(seed) <= 64:
        raise ValueError(f"a SLIP-0010 seed is 16..64 bytes, not {len(seed)}")
    digest = hmac.new(SLIP10_CURVE_KEY, seed, hashlib.sha512).digest()
    return digest[:32], digest[32:]


def slip10_child(key: bytes, chain: bytes, index: int) -> tuple[bytes, bytes]:
    """Hardened SLIP-0010 ed25519 child; ``index`` below 2^31 is hardened here."""
    if index < HARDENED:
        index += HARDENED
    if index > 0xFFFFFFFF:
        raise ValueError(f"child index {index} does not fit in 32 bits")
    data = b"\x00" + key + index.to_bytes(4, "big")
    digest = hmac.new(chain, data, hashlib.sha512).digest()
    return digest[:32], digest[32:]


def slip10_derive(seed: bytes, path: tuple[int, ...]) -> bytes:
    """The ed25519 private seed at ``path`` (each component hardened)."""
    key, chain = slip10_master(seed)
    for index in path:
        key, chain = slip10_child(key, chain, index)
    return key


class Keypair:
    """An Ed25519 signing key and its address. Holds a secret: never log or pickle it."""

    __slots__ = ("_address", "_public_key", "_signing_key")

    def __init__(self, signing_key: SigningKey) -> None:
        self._signing_key = signing_key
        self._public_key = bytes(signing_key.verify_key)
        self._address = encode_address(self._public_key)

    @classmethod
    def from_seed32(cls, seed32: bytes) -> Keypair:
        """From a 32-byte Ed25519 private seed (RFC 8032 secret key)."""
        if len(seed32) != 32:
            raise ValueError(f"an Ed25519 private seed is 32 bytes, not {len(seed32)}")
        return cls(SigningKey(bytes(seed32)))

    @classmethod
    def from_mnemonic(cls, words: str, passphrase: str = "", index: int = 0) -> Keypair:
        """Account ``index`` of a BIP39 mnemonic (path m/44'/8545'/0'/0'/index')."""
        seed = mnemonic_to_seed(words, passphrase)
        return cls.from_seed32(slip10_derive(seed, (*PATH_PREFIX, _check_index(index))))

    @classmethod
    def generate(cls) -> tuple[Keypair, str]:
        """A new 24-word mnemonic (256 bits of entropy) and its account 0."""
        words = _bip39().generate(strength=256)
        return cls.from_mnemonic(words), words

    @property
    def address(self) -> str:
        return self._address

    @property
    def public_key(self) -> bytes:
        return self._public_key

    def sign(self, msg: bytes) -> bytes:
        """The 64-byte detached Ed25519 signature of ``msg``."""
        return self._signing_key.sign(msg).signature

    def __repr__(self) -> str:
        return f"Keypair(address={self._address!r})"

    def __reduce__(self) -> object:
        raise TypeError("a Keypair holds a private key and cannot be pickled")


def verify(public_key: bytes, msg: bytes, signature: bytes) -> bool:
    """Strict Ed25519 verification (libsodium: canonical S, no small-order points)."""
    if len(signature) != 64 or len(public_key) != 32:
        return False
    try:
        VerifyKey(public_key).verify(msg, signature)
    except BadSignatureError:
        return False
    return True


def verify_address(address: str, msg: bytes, signature: bytes) -> bool:
    """Like ``verify`` with the key taken from an address (ADDRESS_INVALID if malformed)."""
    return verify(decode_address(address), msg, signature)
