"""docs/PROTOCOL.md stays true: its error table, schema and example come from the code.

    .venv/bin/python tests/test_protocol_doc.py --write   # regenerate the generated parts
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402

from domain.errors import ErrorCode  # noqa: E402
from streams.wire import TxBody  # noqa: E402

DOC = ROOT / "docs" / "PROTOCOL.md"
SCHEMA = ROOT / "docs" / "schemas" / "tx-body.schema.json"
BEGIN, END = "<!-- error-codes:begin -->", "<!-- error-codes:end -->"


def render_error_table() -> str:
    lines = ["| code | number | meaning |", "|---|---|---|"]
    lines += [f"| `{c.code}` | {c.number} | {c.description} |" for c in ErrorCode]
    return "\n".join(lines)


def render_schema() -> str:
    schema = msgspec.json.schema(TxBody)
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "title": "hiveledger transaction body", **schema}  # fmt: skip
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def with_table(doc: str) -> str:
    start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
    return doc[:start] + "\n" + render_error_table() + "\n" + doc[end:]


def test_error_table_matches_domain_errors() -> None:
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
