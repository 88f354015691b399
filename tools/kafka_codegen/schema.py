"""Reads Kafka message schemas into a small model the generator walks.

Format reference: Kafka's clients/src/main/resources/common/message/README.md (summarised in
docs/formats/kafka-codegen.md). Versions: "N", "A-B", "N+" or "none".
"""
import json
import re
from dataclasses import dataclass, field
from typing import Optional

MAX_VERSION = 0x7FFF


def strip_comments(text):
    """Removes // comments outside string literals (Kafka's files carry them; JSON does not)."""
    out, i, in_string = [], 0, False
    while i < len(text):
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\":
                out.append(text[i + 1])
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
            out.append(c)
        elif text.startswith("//", i):
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def load_schema_text(text):
    return json.loads(strip_comments(text))


@dataclass(frozen=True)
class Versions:
    lo: int
    hi: int  # inclusive; lo > hi means empty

    @staticmethod
    def parse(text):
        text = (text or "none").strip()
        if text == "none":
            return Versions(1, 0)
        if text.endswith("+"):
            return Versions(int(text[:-1]), MAX_VERSION)
        if "-" in text:
            a, b = text.split("-")
            return Versions(int(a), int(b))
        return Versions(int(text), int(text))

    def empty(self):
        return self.lo > self.hi

    def contains(self, v):
        return self.lo <= v <= self.hi

    def intersect(self, other):
        return Versions(max(self.lo, other.lo), min(self.hi, other.hi))


def snake(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.lower()


PRIMITIVES = {"bool", "int8", "int16", "int32", "int64", "uint16", "uint32", "float64",
              "uuid", "string", "bytes", "records"}


@dataclass
class Field:
    name: str
    type: str            # element type for arrays
    is_array: bool
    versions: Versions
    nullable: Versions
    tagged: Versions
    tag: Optional[int]
    default: Optional[str]
    ignorable: bool
    classic_only: bool   # field-level flexibleVersions "none" (RequestHeader.ClientId)
    struct: Optional["Struct"] = None

    @property
    def member(self):
        name = snake(self.name)
        return name + "_" if name in CPP_KEYWORDS else name

    @property
    def is_struct(self):
        return self.type not in PRIMITIVES


@dataclass
class Struct:
    name: str
    fields: list = field(default_factory=list)
    versions: Versions = Versions(0, MAX_VERSION)

    @property
    def cpp(self):
        return snake(self.name)


@dataclass
class Message:
    name: str
    kind: str                # request, response, header, data
    api_key: Optional[int]
    valid: Versions
    flexible: Versions
    root: Struct
    structs: list            # every struct, children before parents, root last
    file_stem: str

    @property
    def cpp(self):
        return snake(self.name)


CPP_KEYWORDS = {"default", "delete", "new", "class", "operator", "register", "template",
                "this", "union", "namespace", "and", "or", "not", "xor", "bool", "int",
                "long", "short", "char", "float", "double", "auto", "case", "switch",
                "private", "public", "protected", "friend", "virtual", "explicit"}


def parse_message(data, file_stem):
    valid = Versions.parse(data["validVersions"])
    flexible = Versions.parse(data.get("flexibleVersions", "none"))
    common = {c["name"]: c for c in data.get("commonStructs", [])}
    structs = {}

    def build_struct(name, fields_json, versions):
        if name in structs:
            existing = structs[name]
            existing.versions = Versions(min(existing.versions.lo, versions.lo),
                                         max(existing.versions.hi, versions.hi))
            return existing
        s = Struct(name=name, versions=versions)
        structs[name] = s
        s.fields = [build_field(f, versions) for f in fields_json]
        return s

    def build_field(f, parent_versions):
        type_text = f["type"]
        is_array = type_text.startswith("[]")
        elem = type_text[2:] if is_array else type_text
        versions = Versions.parse(f["versions"])
        fld = Field(
            name=f["name"], type=elem, is_array=is_array, versions=versions,
            nullable=Versions.parse(f.get("nullableVersions")),
            tagged=Versions.parse(f.get("taggedVersions")), tag=f.get("tag"),
            default=f.get("default"), ignorable=bool(f.get("ignorable", False)),
            classic_only=f.get("flexibleVersions") == "none")
        if elem not in PRIMITIVES:
            if "fields" in f:
                fld.struct = build_struct(elem, f["fields"], versions)
            elif elem in common:
                fld.struct = build_struct(elem, common[elem]["fields"], versions)
            else:
                raise ValueError(f"{file_stem}: unknown type {elem}")
        return fld

    root = build_struct(data["name"], data["fields"], valid)
    ordered, seen = [], set()

    def visit(s):
        if s.name in seen:
            return
        seen.add(s.name)
        for f in s.fields:
            if f.struct:
                visit(f.struct)
        ordered.append(s)

    visit(root)
    return Message(name=data["name"], kind=data["type"], api_key=data.get("apiKey"),
                   valid=valid, flexible=flexible, root=root, structs=ordered,
                   file_stem=file_stem)
