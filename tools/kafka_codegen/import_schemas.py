#!/usr/bin/env python3
"""Copies Kafka's protocol message schemas into src/kafka/protocol/schemas/, keeping only
their structure: `//` comments and `about` prose are dropped, key order is kept.

Usage: tools/kafka_codegen/import_schemas.py <kafka-protocol-dir>  (e.g. ../shared/kafka-protocol)
It copies Kafka's LICENSE and NOTICE beside the schemas for attribution.
"""
import json
import pathlib
import shutil
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from schema import load_schema_text  # noqa: E402


def strip_about(node):
    if isinstance(node, dict):
        return {k: strip_about(v) for k, v in node.items() if k != "about"}
    if isinstance(node, list):
        return [strip_about(v) for v in node]
    return node


def main():
    source = pathlib.Path(sys.argv[1])
    target = pathlib.Path(__file__).resolve().parents[2] / "src/kafka/protocol/schemas"
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*.json"):
        old.unlink()
    for path in sorted((source / "messages").glob("*.json")):
        schema = strip_about(load_schema_text(path.read_text()))
        (target / path.name).write_text(json.dumps(schema, indent=1) + "\n")
    shutil.copy(source / "LICENSE", target / "LICENSE")
    shutil.copy(source / "NOTICE", target / "NOTICE")
    print(f"imported {len(list(target.glob('*.json')))} schemas into {target}")


if __name__ == "__main__":
    main()
