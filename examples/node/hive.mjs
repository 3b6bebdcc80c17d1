// hiveledger's wire protocol with Node's standard library only (docs/PROTOCOL.md):
// BIP39 seed, SLIP-0010 ed25519 derivation, bech32m addresses, DSSE PAE, signing, txid.
import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  pbkdf2Sync,
  sign,
  verify,
} from "node:crypto";

export const PAYLOAD_TYPE = "application/vnd.hiveledger.tx+json";
export const HRP = "hive";
const HARDENED = 0x80000000;
const PATH_PREFIX = [44, 8545, 0, 0];

// ---- bech32m (BIP-350) ------------------------------------------------------------
const CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const BECH32M_CONST = 0x2bc830a3;
const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values) {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = (((chk & 0x1ffffff) << 5) ^ v) >>> 0;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk = (chk ^ GEN[i]) >>> 0;
  }
  return chk;
}

function hrpExpand(hrp) {
  const out = [];
  for (const c of hrp) out.push(c.charCodeAt(0) >> 5);
  out.push(0);
  for (const c of hrp) out.push(c.charCodeAt(0) & 31);
  return out;
}

function convertBits(data, from, to, pad) {
  let acc = 0;
  let bits = 0;
  const out = [];
  const maxv = (1 << to) - 1;
  for (const value of data) {
    acc = (acc << from) | value;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >> bits) & maxv);
    }
    acc &= (1 << bits) - 1; // keep only the bits not yet emitted (no overflow)
  }
  if (pad) {
    if (bits) out.push((acc << (to - bits)) & maxv);
  } else if (bits >= from || ((acc << (to - bits)) & maxv)) {
    throw new Error("bad padding");
  }
  return out;
}

/** The address of a 32-byte Ed25519 public key. */
export function encodeAddress(publicKey) {
  if (publicKey.length !== 32) throw new Error("public key must be 32 bytes");
  const data = convertBits(publicKey, 8, 5, true);
  const mod = polymod([...hrpExpand(HRP), ...data, 0, 0, 0, 0, 0, 0]) ^ BECH32M_CONST;
  const checksum = [0, 1, 2, 3, 4, 5].map((i) => (mod >>> (5 * (5 - i))) & 31);
  return HRP + "1" + [...data, ...checksum].map((d) => CHARSET[d]).join("");
}

/** The 32-byte public key in a canonical (lowercase) hive address; throws if malformed. */
export function decodeAddress(address) {
  if (typeof address !== "string" || address !== address.toLowerCase())
    throw new Error("an address is a lowercase string");
  const pos = address.lastIndexOf("1");
  if (address.slice(0, pos) !== HRP) throw new Error("an address starts with hive1");
  const data = [...address.slice(pos + 1)].map((c) => CHARSET.indexOf(c));
  if (data.length < 6 || data.includes(-1)) throw new Error("not bech32 characters");
  if (polymod([...hrpExpand(HRP), ...data]) !== BECH32M_CONST) throw new Error("bad checksum");
  const key = Buffer.from(convertBits(data.slice(0, -6), 5, 8, false));
  if (key.length !== 32) throw new Error("an address holds a 32-byte key");
  return key;
}

// ---- keys -------------------------------------------------------------------------
/** BIP39 seed. NOTE: checking the mnemonic's checksum needs the BIP39 word list, which
 * Node does not ship; a real wallet must check it before use. */
export function mnemonicToSeed(mnemonic, passphrase = "") {
  const words = mnemonic.normalize("NFKD").toLowerCase().trim().split(/\s+/).join(" ");
  const salt = "mnemonic" + passphrase.normalize("NFKD");
  return pbkdf2Sync(Buffer.from(words, "utf8"), Buffer.from(salt, "utf8"), 2048, 64, "sha512");
}

/** SLIP-0010 ed25519: every index is hardened. Returns the 32-byte private seed. */
export function slip10Derive(seed, path) {
  let I = createHmac("sha512", "ed25519 seed").update(seed).digest();
  for (const index of path) {
    const data = Buffer.alloc(37);
    I.copy(data, 1, 0, 32); // 0x00 || key
    data.writeUInt32BE((index | HARDENED) >>> 0, 33);
    I = createHmac("sha512", I.subarray(32)).update(data).digest();
  }
  return I.subarray(0, 32);
}

const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");

/** A signing key from a 32-byte Ed25519 seed: { privateKey, publicKey, address }. */
export function keyFromSeed32(seed32) {
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519, seed32]),
    format: "der",
    type: "pkcs8",
  });
  const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  const publicKey = spki.subarray(spki.length - 32);
  return { privateKey, publicKey, address: encodeAddress(publicKey) };
}

export function derivationPath(index = 0) {
  return [...PATH_PREFIX, index];
}

export function keyFromMnemonic(mnemonic, passphrase = "", index = 0) {
  return keyFromSeed32(slip10Derive(mnemonicToSeed(mnemonic, passphrase), derivationPath(index)));
}

// ---- DSSE -------------------------------------------------------------------------
export function pae(payloadType, body) {
  const type = Buffer.from(payloadType, "utf8");
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `),
    type,
    Buffer.from(` ${body.length} `),
    body,
  ]);
}

export function txidOf(body) {
  return createHash("sha256").update(pae(PAYLOAD_TYPE, body)).digest("hex");
}

/** Sign body bytes as they are: returns { txid, sig (base64), envelope (string) }. */
export function seal(body, key) {
  const message = pae(PAYLOAD_TYPE, body);
  const sig = sign(null, message, key.privateKey).toString("base64");
  const envelope = JSON.stringify({
    payloadType: PAYLOAD_TYPE,
    payload: body.toString("base64"),
    signatures: [{ keyid: key.address, sig }],
  });
  return { txid: createHash("sha256").update(message).digest("hex"), sig, envelope };
}

/** Does the envelope's signature verify over its payload? (no body checks) */
export function verifyEnvelope(envelopeText) {
  const env = JSON.parse(envelopeText);
  const body = Buffer.from(env.payload, "base64");
  const spki = Buffer.concat([
    Buffer.from("302a300506032b6570032100", "hex"),
    decodeAddress(env.signatures[0].keyid),
  ]);
  const publicKey = createPublicKey({ key: spki, format: "der", type: "spki" });
  const sig = Buffer.from(env.signatures[0].sig, "base64");
  return sig.length === 64 && verify(null, pae(env.payloadType, body), publicKey, sig);
}
