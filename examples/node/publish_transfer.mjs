// Sign a transfer with a key derived from a mnemonic and publish it to hiveledger's INTAKE
// stream over a raw TCP connection speaking the NATS text protocol. Node standard library
// only. The mnemonic is read from the environment, never from the command line.
//
//   HIVE_MNEMONIC="abandon ... art" node examples/node/publish_transfer.mjs \
//     --nats nats://127.0.0.1:4222 --chain-id hive-dev --to hive1... --amount 1500000000 \
//     --nonce 1 [--memo text] [--index 0] [--created-at ms] [--expires-at ms]
//
// Prints one JSON line: {"txid", "subject", "stream", "seq", "duplicate"}; exits 1 if the
// server did not take the message.
import { connect } from "node:net";
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { decodeAddress, keyFromMnemonic, seal } from "./hive.mjs";

const MAX_I63 = (1n << 63n) - 1n;

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(2);
}

function int63(name, text, min) {
  if (!/^-?\d+$/.test(text ?? "")) fail(`--${name} must be an integer`);
  const value = BigInt(text);
  if (value < min || value > MAX_I63) fail(`--${name} must be in ${min}..${MAX_I63}`);
  return value;
}

/** The body's JSON text, written by hand so integers above 2^53 stay exact. */
function transferBody(o) {
  const parts = [
    `"chain_id":${JSON.stringify(o.chainId)}`,
    `"kind":"transfer"`,
    `"signer":${JSON.stringify(o.signer)}`,
    `"nonce":${o.nonce}`,
    `"created_at":${o.createdAt}`,
    `"to":${JSON.stringify(o.to)}`,
    `"amount":${o.amount}`,
  ];
  if (o.memo) parts.push(`"memo":${JSON.stringify(o.memo)}`);
  if (o.expiresAt !== undefined) parts.push(`"expires_at":${o.expiresAt}`);
  return Buffer.from(`{${parts.join(",")}}`, "utf8");
}

/** Publish with a reply inbox and wait for the JetStream ack (a minimal NATS client). */
function publish(url, subject, headers, payload, timeoutMs = 5000) {
  const { hostname, port } = new URL(url);
  const inbox = `_INBOX.${randomBytes(12).toString("hex")}`;
  const hdr = Buffer.from(
    "NATS/1.0\r\n" + Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n",
  );
  return new Promise((resolve, reject) => {
    const sock = connect({ host: hostname, port: Number(port || 4222) });
    const timer = setTimeout(() => done(new Error("no ack in time")), timeoutMs);
    let buf = Buffer.alloc(0);
    let sent = false;
    const done = (err, value) => {
      clearTimeout(timer);
      sock.destroy();
      err ? reject(err) : resolve(value);
    };
    sock.on("error", (err) => done(err));
    sock.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const eol = buf.indexOf("\r\n");
        if (eol < 0) return;
        const line = buf.subarray(0, eol).toString();
        const [op, ...args] = line.split(" ");
        if (op === "MSG" || op === "HMSG") {
          const total = Number(args[args.length - 1]);
          const hdrLen = op === "HMSG" ? Number(args[args.length - 2]) : 0;
          if (buf.length < eol + 2 + total + 2) return; // wait for the whole message
          const msg = buf.subarray(eol + 2, eol + 2 + total);
          buf = buf.subarray(eol + 2 + total + 2);
          const status = msg.subarray(0, hdrLen).toString().split("\r\n")[0];
          if (hdrLen && /^NATS\/1\.0 503/.test(status)) {
            return done(new Error(`no stream listens on ${subject} (503 no responders)`));
          }
          return done(null, JSON.parse(msg.subarray(hdrLen).toString()));
        }
        buf = buf.subarray(eol + 2);
        if (op === "INFO" && !sent) {
          sent = true;
          const info = JSON.parse(args.join(" "));
          if (!info.headers) return done(new Error("this NATS server does not support headers"));
          const connectOpts = { verbose: false, pedantic: false, headers: true,
            no_responders: true, protocol: 1, lang: "node-example", version: "1" };
          sock.write(
            `CONNECT ${JSON.stringify(connectOpts)}\r\nSUB ${inbox} 1\r\n` +
              `HPUB ${subject} ${inbox} ${hdr.length} ${hdr.length + payload.length}\r\n`,
          );
          sock.write(Buffer.concat([hdr, payload, Buffer.from("\r\nPING\r\n")]));
        } else if (op === "PING") {
          sock.write("PONG\r\n");
        } else if (op === "-ERR") {
          return done(new Error(`server error: ${args.join(" ")}`));
        }
      }
    });
  });
}

const { values: a } = parseArgs({
  options: {
    nats: { type: "string", default: process.env.NATS_URL ?? "nats://127.0.0.1:4222" },
    "chain-id": { type: "string" },
    to: { type: "string" },
    amount: { type: "string" },
    nonce: { type: "string" },
    memo: { type: "string", default: "" },
    index: { type: "string", default: "0" },
    "created-at": { type: "string", default: String(Date.now()) },
    "expires-at": { type: "string" },
  },
});
const mnemonic = process.env.HIVE_MNEMONIC;
if (!mnemonic) fail("set HIVE_MNEMONIC to the signer's mnemonic");
if (!a["chain-id"]) fail("--chain-id is required");
try {
  decodeAddress(a.to);
} catch (err) {
  fail(`--to: ${err.message}`);
}
if (Buffer.byteLength(a.memo, "utf8") > 256) fail("--memo is at most 256 bytes of UTF-8");

const key = keyFromMnemonic(mnemonic, process.env.HIVE_PASSPHRASE ?? "", Number(a.index));
const body = transferBody({
  chainId: a["chain-id"],
  signer: key.address,
  nonce: int63("nonce", a.nonce, 1n),
  createdAt: int63("created-at", a["created-at"], 0n),
  to: a.to,
  amount: int63("amount", a.amount, 1n),
  memo: a.memo,
  expiresAt: a["expires-at"] === undefined ? undefined : int63("expires-at", a["expires-at"], 0n),
});
const { txid, envelope } = seal(body, key);
const subject = "hive.intake.transfer";
try {
  const ack = await publish(a.nats, subject, { "Nats-Msg-Id": txid }, Buffer.from(envelope));
  if (ack.error) {
    console.log(JSON.stringify({ txid, subject, error: ack.error }));
    process.exitCode = 1;
  } else {
    const duplicate = ack.duplicate === true;
    console.log(JSON.stringify({ txid, subject, stream: ack.stream, seq: ack.seq, duplicate }));
  }
} catch (err) {
  console.error(`error: ${err.message}`);
  process.exitCode = 1;
}
