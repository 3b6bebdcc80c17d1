"""docs/PROTOCOL.md stays true: its error table, schema and example come from the code.

.venv/bin/python tests/test_protocol_doc.py --write   # regenerate the generated parts
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402

from domain.errors import ErrorCode  # noqa: E402
from streams.wire import TxBody  # noqa: E402

DOC = ROOT / "docs" / "PROTOCOL.md"
SCHEMA = ROOT / "docs" / "schemas" / "tx-body.schema.json"
BEGIN, END = "<!-- error-codes:begin -->", "<!-- error-codes:end -->"
KINDS_BEGIN, KINDS_END = "<!-- kinds:begin -->", "<!-- kinds:end -->"
COMMON = {"kind", "chain_id", "signer", "nonce", "created_at", "expires_at"}
MAX = 2**63 - 1


def render_error_table() -> str:
    lines = ["| code | number | meaning |", "|---|---|---|"]
    lines += [f"| `{c.code}` | {c.number} | {c.description} |" for c in ErrorCode]
    return "\n".join(lines)


def render_schema() -> str:
    schema = msgspec.json.schema(TxBody)
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "title": "hiveledger transaction body", **schema}  # fmt: skip
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def _bound(n: int) -> str:
    return "2^63-1" if n == MAX else str(n)


def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    """A short human rendering of one JSON Schema property."""
    if "$ref" in prop:
        target = defs[prop["$ref"].rsplit("/", 1)[1]]
        return "one of " + ", ".join(f"`{v}`" for v in target["enum"])
    if "anyOf" in prop:
        return " or ".join(_type(p, defs) for p in prop["anyOf"])
    kind = prop.get("type", "string")
    if prop.get("pattern", "").startswith("^hive1"):
        return "address"
    if kind == "integer":
        text = f"integer {_bound(prop.get('minimum', -MAX))}..{_bound(prop['maximum'])}"
        return f"{text}; {prop['description']}" if "description" in prop else text
    if kind == "array":
        return f"list (at most {prop['maxItems']}) of {_type(prop['items'], defs)}"
    if kind == "object":
        keys, values = prop["propertyNames"], prop["additionalProperties"]
        return (f"object (at most {prop['maxProperties']} keys) of "
                f"{_type(keys, defs)} → {_type(values, defs)}")  # fmt: skip
    if kind == "null":
        return "null"
    text = prop.get("description") or ""
    if "maxLength" in prop and "UTF-8" not in text:
        text = f"{prop.get('minLength', 0)} to {prop['maxLength']} characters"
    if "pattern" in prop and not text:
        text = f"matching `{prop['pattern']}`"
    return f"{kind}, {text}" if text else kind


def render_kinds() -> str:
    schema = msgspec.json.schema(TxBody)
    defs = schema["$defs"]
    out = []
    for tag, ref in schema["discriminator"]["mapping"].items():
        spec = defs[ref.rsplit("/", 1)[1]]
        about = " ".join((spec.get("description") or "").split()).replace("``", "`")
        heading = f"**`{tag}`**: {about}" if about else f"**`{tag}`**"
        out += ["", heading, "", "| field | type | |", "|---|---|---|"]
        for name, prop in spec["properties"].items():
            if name in COMMON:
                continue
            need = (
                "required"
                if name in spec["required"]
                else (f"optional, default `{json.dumps(prop['default'], ensure_ascii=False)}`")
            )
            out.append(f"| `{name}` | {_type(prop, defs)} | {need} |")
    return "\n".join(out[1:])


def _replace(doc: str, begin: str, end: str, text: str) -> str:
    start, stop = doc.index(begin) + len(begin), doc.index(end)
    return doc[:start] + "\n" + text + "\n" + doc[stop:]


def with_table(doc: str) -> str:
    doc = _replace(doc, KINDS_BEGIN, KINDS_END, render_kinds())
    return _replace(doc, BEGIN, END, render_error_table())


def test_error_table_and_kinds_match_the_code() -> None:
    doc = DOC.read_text(encoding="utf-8")
    assert doc == with_table(doc), "stale: run .venv/bin/python tests/test_protocol_doc.py --write"


def test_schema_matches_wire_types() -> None:
    assert SCHEMA.read_text(encoding="utf-8") == render_schema(), (
        "stale: run .venv/bin/python tests/test_protocol_doc.py --write"
    )


def test_worked_example_is_a_vector() -> None:
    doc = DOC.read_text(encoding="utf-8")
    vectors = json.loads((ROOT / "tests" / "vectors" / "envelopes.json").read_text("utf-8"))
    example = next(v for v in vectors["vectors"] if v["name"] == "transfer, no memo, with expiry")
    assert example["body"] in doc
    assert example["envelope"] in doc
    assert f"Its txid is `{example['txid']}`" in doc
    assert f"For the {len(example['body'].encode())}-byte body" in doc


def test_ledger_section_placeholder_is_kept() -> None:
    assert re.search(r"^## The ledger stream$", DOC.read_text(encoding="utf-8"), re.M)


def main() -> None:
    if "--write" not in sys.argv:
        print(render_error_table())
        return
    DOC.write_text(with_table(DOC.read_text(encoding="utf-8")), encoding="utf-8")
    SCHEMA.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA.write_text(render_schema(), encoding="utf-8")
    print(f"wrote {DOC} and {SCHEMA}")


if __name__ == "__main__":
    main()
