// Recompute tests/vectors/keys.json and tests/vectors/envelopes.json with Node's standard
// library only. Usage: node examples/node/check_vectors.mjs [vectors directory]
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  decodeAddress,
  derivationPath,
  keyFromMnemonic,
  keyFromSeed32,
  mnemonicToSeed,
  pae,
  seal,
  slip10Derive,
  verifyEnvelope,
} from "./hive.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const dir = process.argv[2] ?? join(here, "..", "..", "tests", "vectors");
let passed = 0;
let failed = 0;

function check(name, actual, expected) {
  if (actual === expected) {
    passed++;
  } else {
    failed++;
    console.log(`FAIL ${name}\n  expected ${expected}\n  got      ${actual}`);
  }
}

const keys = JSON.parse(readFileSync(join(dir, "keys.json"), "utf8"));
for (const v of keys.vectors) {
  const name = `keys: ${v.mnemonic.slice(0, 24)}... / ${JSON.stringify(v.passphrase)} / ${v.index}`;
  const seed = mnemonicToSeed(v.mnemonic, v.passphrase);
  check(`${name} seed`, seed.toString("hex"), v.bip39_seed);
  const priv = slip10Derive(seed, derivationPath(v.index));
  check(`${name} private key`, priv.toString("hex"), v.private_key);
  const key = keyFromSeed32(priv);
  check(`${name} public key`, key.publicKey.toString("hex"), v.public_key);
  check(`${name} address`, key.address, v.address);
  check(`${name} address decodes`, decodeAddress(v.address).toString("hex"), v.public_key);
}

const envs = JSON.parse(readFileSync(join(dir, "envelopes.json"), "utf8"));
const signer = keyFromMnemonic(envs.signer.mnemonic, "", envs.signer.index);
check("envelopes: signer address", signer.address, envs.signer.address);
for (const v of envs.vectors) {
  const body = Buffer.from(v.body, "utf8");
  check(`${v.name}: PAE`, pae(envs.payload_type, body).toString("hex"), v.pae_hex);
  const sealed = seal(body, signer);
  check(`${v.name}: signature`, sealed.sig, v.sig);
  check(`${v.name}: envelope`, sealed.envelope, v.envelope);
  check(`${v.name}: txid`, sealed.txid, v.txid);
  check(`${v.name}: verifies`, verifyEnvelope(v.envelope), true);
}
// Negative vectors: the ones about signatures must not verify here either.
for (const v of envs.negative.filter((n) => n.error === "signature_invalid")) {
  check(`negative ${v.name}: does not verify`, verifyEnvelope(v.envelope), false);
}

console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
