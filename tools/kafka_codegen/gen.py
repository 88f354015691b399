#!/usr/bin/env python3
"""Generates C++ codecs from Kafka's protocol message schemas (Python 3 standard library only).

Usage:
  gen.py --schemas DIR --out DIR              write every generated file (only if changed)
  gen.py --schemas DIR --list-outputs         print the files it would write, one per line

For each API it writes kafka/protocol/<api>.h/.cc (request and response types with encode and
decode for every valid version), for headers and data schemas one pair each, plus api_table.cc
(every API key with its versions) and, for the tests, samples/<api>.cc (non-default values for
every field of every version) and samples/registry.cc. Runtime primitives: wire.h.
"""
import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from schema import MAX_VERSION, Versions, load_schema_text, parse_message, snake  # noqa: E402

FIXED = {"bool": ("bool", 1), "int8": ("int8_t", 1), "int16": ("int16_t", 2),
         "int32": ("int32_t", 4), "int64": ("int64_t", 8), "uint16": ("uint16_t", 2),
         "uint32": ("uint32_t", 4), "float64": ("double", 8), "uuid": ("uuid", 16)}
RESERVED_MEMBERS = {"encode", "decode", "valid_versions", "flexible_versions", "kafka_api_key",
                    "unknown_tagged_fields", "min_classic_bytes"}


def version_cond(vs, var="v"):
    """A C++ condition for `var in vs`, or 'true'/'false'."""
    if vs.empty():
        return "false"
    parts = []
    if vs.lo > 0:
        parts.append(f"{var} >= {vs.lo}")
    if vs.hi < MAX_VERSION:
        parts.append(f"{var} <= {vs.hi}")
    return " && ".join(parts) if parts else "true"


class Gen:
    def __init__(self, msg):
        self.msg = msg
        names = {s.name for s in msg.structs}
        members = {f.member for s in msg.structs for f in s.fields}
        self.type_names = {}
        for s in msg.structs:
            base = s.cpp if s is not msg.root else msg.cpp
            if s is not msg.root and (base in members or base == msg.cpp):
                base += "_entry"
            self.type_names[s.name] = base
        for s in msg.structs:
            for f in s.fields:
                if f.member in RESERVED_MEMBERS:
                    raise ValueError(f"{msg.name}.{f.name}: member name {f.member} is reserved")
        del names

    # ---- types and defaults -------------------------------------------------------------
    def struct_type(self, s):
        """Fully qualified, so a member named like a nested type never changes its meaning."""
        if s is self.msg.root:
            return f"::trib::kafka::protocol::{self.msg.cpp}"
        return f"::trib::kafka::protocol::{self.msg.cpp}_parts::{self.type_names[s.name]}"

    def elem_type(self, f):
        if f.type in FIXED:
            return FIXED[f.type][0]
        if f.type == "string":
            return "std::string"
        if f.type in ("bytes", "records"):
            return "bytes"
        return self.struct_type(f.struct)

    def optional(self, f):
        return not f.nullable.empty() and (f.is_array or f.type in ("string", "bytes",
                                                                    "records") or f.is_struct)

    def member_type(self, f):
        t = self.elem_type(f)
        if f.is_array:
            t = f"std::vector<{t}>"
        return f"std::optional<{t}>" if self.optional(f) else t

    def default_expr(self, f):
        """The field's default as an expression of its member type."""
        t = self.member_type(f)
        d = f.default
        if isinstance(d, bool):
            d = "true" if d else "false"
        if d is not None:
            d = str(d)
        if self.optional(f) and (d == "null" or (d is None and f.type == "records"
                                                 and not f.is_array)):
            return f"{t}()"
        if f.is_array or f.is_struct or f.type in ("uuid", "bytes", "records"):
            return f"{t}()"
        if f.type == "string":
            text = d or ""
            return f"{t}(\"{text}\")" if text else f"{t}()"
        if f.type == "bool":
            return "true" if d == "true" else "false"
        if f.type == "float64":
            return f"double({float(d) if d else 0.0!r})"
        value = int(d, 0) if d else 0
        return f"{t}({int_literal(value)})"

    # ---- declarations ------------------------------------------------------------------
    def member_decl(self, f):
        t, d = self.member_type(f), self.default_expr(f)
        if d == f"{t}()":
            return f"{t} {f.member};"
        if d.startswith(f"{t}(") and d.endswith(")"):
            return f"{t} {f.member} = {d[len(t) + 1:-1]};"
        return f"{t} {f.member} = {d};"

    def declare_struct(self, s, indent):
        pad = " " * indent
        name = self.type_names[s.name]
        out = [f"{pad}struct {name} {{"]
        if s is self.msg.root:
            out += self.root_constants(indent + 4)
        for f in s.fields:
            out.append(f"{pad}    {self.member_decl(f)}")
        out.append(f"{pad}    tagged_fields unknown_tagged_fields;")
        out.append("")
        out.append(f"{pad}    void encode(writer& w, int16_t version) const;")
        out.append(f"{pad}    void decode(reader& r, int16_t version);")
        out.append(f"{pad}    friend bool operator==(const {name}&, const {name}&) = default;")
        out.append(f"{pad}}};")
        return out

    def root_constants(self, indent):
        pad = " " * indent
        m = self.msg
        out = []
        if m.api_key is not None:
            out.append(f"{pad}static constexpr int16_t kafka_api_key = {m.api_key};")
        out.append(f"{pad}static constexpr version_range valid_versions{{{m.valid.lo}, "
                   f"{m.valid.hi}}};")
        flex = m.flexible.intersect(m.valid)
        lo, hi = (flex.lo, flex.hi) if not flex.empty() else (MAX_VERSION, -1)
        out.append(f"{pad}static constexpr version_range flexible_versions{{{lo}, {hi}}};")
        return out

    def header(self):
        """The message's struct definition. Nested structs are defined first, in a namespace
        of their own, and named inside the root struct by aliases: defined inside it, clang
        (CWG 1397) would not let std::optional construct them until the root is complete."""
        m = self.msg
        out = []
        nested = [s for s in m.structs if s is not m.root]
        if nested:
            out.append(f"namespace {m.cpp}_parts {{")
            for s in nested:  # children first
                out += self.declare_struct(s, 0)
                out.append("")
            out.append(f"}}  // namespace {m.cpp}_parts")
            out.append("")
        root_name = self.type_names[m.root.name]
        out.append(f"struct {root_name} {{")
        out += self.root_constants(4)
        for s in nested:
            name = self.type_names[s.name]
            out.append(f"    using {name} = {m.cpp}_parts::{name};")
        for f in m.root.fields:
            out.append(f"    {self.member_decl(f)}")
        out.append("    tagged_fields unknown_tagged_fields;")
        out.append("")
        out.append("    void encode(writer& w, int16_t version) const;")
        out.append("    void decode(reader& r, int16_t version);")
        out.append(f"    friend bool operator==(const {root_name}&, const {root_name}&) = default;")
        out.append("};")
        out.append("")
        return out

    # ---- decoding ----------------------------------------------------------------------
    def min_bytes(self, f, compact):
        if f.type in FIXED:
            return FIXED[f.type][1]
        if f.type == "string":
            return 1 if compact else 2
        if f.type in ("bytes", "records"):
            return 1 if compact else 4
        return self.struct_min_classic(f.struct) if not compact else 1

    def struct_min_classic(self, s, seen=()):
        """Smallest classic encoding of the struct over its versions (0 if it can be empty)."""
        if s.name in seen:
            return 0
        best = None
        for v in range(max(s.versions.lo, 0), min(s.versions.hi, self.msg.valid.hi) + 1):
            total = 0
            for f in s.fields:
                if f.versions.contains(v) and not f.tagged.contains(v):
                    if f.is_array:
                        total += 4
                    elif f.is_struct:
                        total += self.struct_min_classic(f.struct, seen + (s.name,))
                    else:
                        total += self.min_bytes(f, False)
            best = total if best is None else min(best, total)
        return best or 0

    def decode_value(self, f, target, rd, compact, nullable):
        """Statements that read field f's value from reader `rd` into `target`."""
        opt = self.optional(f)
        if f.is_array:
            elem_min = (f"(flexible ? 1 : {self.min_bytes(f, False)})" if f.is_struct
                        else str(self.min_bytes(f, compact == "true")) if compact in ("true", "false")
                        else f"({compact} ? {self.min_bytes(f, True)} : {self.min_bytes(f, False)})")
            lines = [f"int32_t n = {rd}.read_array_length({compact}, {nullable}, {elem_min});"]
            vec = "vec"
            if opt:
                lines.append(f"if (n < 0) {{ {target}.reset(); }} else {{")
                lines.append(f"    auto& vec = {target}.emplace();")
            else:
                lines.append("{")
                lines.append(f"    auto& vec = {target};")
            lines.append(f"    {vec}.clear();")
            lines.append(f"    {vec}.reserve(static_cast<size_t>(n));")
            lines.append(f"    for (int32_t i = 0; i < n && {rd}.ok(); ++i) {{")
            if f.is_struct:
                lines.append(f"        {vec}.emplace_back().decode({rd}, v);")
            else:
                lines.append(f"        {vec}.push_back({self.read_scalar(f, rd, compact, 'false')});")
            lines.append("    }")
            lines.append("}")
            return lines
        if f.is_struct:
            if opt:
                return [f"if ({nullable} && {rd}.read_int8() < 0) {{ {target}.reset(); }} else {{",
                        f"    {target}.emplace().decode({rd}, v);", "}"]
            return [f"{target}.decode({rd}, v);"]
        if opt:
            kind = "string" if f.type == "string" else "bytes"
            return [f"if ({nullable}) {{ {target} = {rd}.read_nullable_{kind}({compact}); }} "
                    f"else {{ {target} = {rd}.read_{kind}({compact}); }}"]
        return [f"{target} = {self.read_scalar(f, rd, compact, nullable)};"]

    def read_scalar(self, f, rd, compact, nullable):
        if f.type in FIXED:
            return f"{rd}.read_{f.type}()"
        kind = "string" if f.type == "string" else "bytes"
        return f"{rd}.read_{kind}({compact})"

    def compact_expr(self, f):
        return "false" if f.classic_only else "flexible"

    def decode_fn(self, s):
        name = self.struct_type(s)
        out = [f"void {name}::decode(reader& r, [[maybe_unused]] int16_t v) {{"]
        flex = self.msg.flexible
        out.append(f"    [[maybe_unused]] const bool flexible = {version_cond(flex)};")
        for f in s.fields:
            regular = Versions(f.versions.lo, f.versions.hi)
            cond = version_cond(regular)
            if cond == "false":
                continue
            tagged_cond = version_cond(f.tagged)
            full = cond if tagged_cond == "false" else f"({cond}) && !({tagged_cond})"
            body = self.decode_value(f, f.member, "r", self.compact_expr(f),
                                     version_cond(f.nullable))
            out.append(f"    if ({full}) {{")
            out += ["        " + line for line in body]
            out.append("    }")
        tagged = sorted([f for f in s.fields if not f.tagged.empty()], key=lambda f: f.tag)
        out.append("    if (flexible) {")
        out.append("        uint32_t tag_count = r.read_tag_count();")
        out.append("        int64_t last_tag = -1;")
        out.append("        for (uint32_t tag_index = 0; tag_index < tag_count && r.ok(); ++tag_index) {")
        out.append("            uint32_t tag = 0;")
        out.append("            reader tagged_value = r.read_tagged_value(tag, last_tag);")
        out.append("            if (!r.ok()) break;")
        prefix = ""
        for f in tagged:
            cond = version_cond(f.tagged.intersect(f.versions))
            out.append(f"            {prefix}if (tag == {f.tag} && {cond}) {{")
            body = self.decode_value(f, f.member, "tagged_value", "true", version_cond(f.nullable))
            out += ["                " + line for line in body]
            out.append("                r.finish_tagged_value(tagged_value);")
            prefix = "} else "
            out.append("            ")
        if tagged:
            out[-1] = "            } else {"
            out.append("                unknown_tagged_fields.push_back({tag, tagged_value.read_rest()});")
            out.append("            }")
        else:
            out.append("            unknown_tagged_fields.push_back({tag, tagged_value.read_rest()});")
        out.append("        }")
        out.append("    }")
        out.append("}")
        return out

    # ---- encoding ----------------------------------------------------------------------
    def write_scalar(self, f, w, value, compact):
        if f.type in FIXED:
            return f"{w}.write_{f.type}({value});"
        kind = "string" if f.type == "string" else "bytes"
        return f"{w}.write_{kind}({value}, {compact});"

    def encode_value(self, f, src, w, compact, nullable):
        opt = self.optional(f)
        lines = []
        if opt:
            lines.append(f"if (!{src}.has_value()) {{")
            if f.is_array:
                null_write = f"{w}.write_array_length(-1, {compact});"
            elif f.is_struct:
                null_write = f"{w}.write_int8(-1);"
            else:
                kind = "string" if f.type == "string" else "bytes"
                null_write = f"{w}.write_nullable_{kind}({src}, {compact});"
            lines.append(f"    if ({nullable}) {{ {null_write} }} "
                         f"else {{ {w}.fail(errc::null_not_allowed); }}")
            lines.append("} else {")
            val = f"(*{src})"
            inner = []
        else:
            val = src
            inner = lines
        if f.is_array:
            inner.append(f"{w}.write_array_length(static_cast<int32_t>({val}.size()), {compact});")
            inner.append(f"for (const auto& e : {val}) {{")
            if f.is_struct:
                inner.append(f"    e.encode({w}, v);")
            else:
                inner.append("    " + self.write_scalar(f, w, "e", compact))
            inner.append("}")
        elif f.is_struct:
            if opt:
                inner.append(f"if ({nullable}) {w}.write_int8(1);")
            inner.append(f"{val}.encode({w}, v);")
        else:
            inner.append(self.write_scalar(f, w, val, compact))
        if opt:
            lines += ["    " + line for line in inner]
            lines.append("}")
        return lines

    def encode_fn(self, s):
        name = self.struct_type(s)
        out = [f"void {name}::encode(writer& w, [[maybe_unused]] int16_t v) const {{"]
        out.append(f"    [[maybe_unused]] const bool flexible = {version_cond(self.msg.flexible)};")
        for f in s.fields:
            cond = version_cond(f.versions)
            tagged_cond = version_cond(f.tagged)
            if not f.ignorable:
                # A value the version cannot carry is an error, never silently dropped.
                out.append(f"    if (!({cond}) && {f.member} != {self.default_expr(f)}) "
                           "w.fail(errc::field_not_in_version);")
            if cond == "false":
                continue
            full = cond if tagged_cond == "false" else f"({cond}) && !({tagged_cond})"
            body = self.encode_value(f, f.member, "w", self.compact_expr(f),
                                     version_cond(f.nullable))
            out.append(f"    if ({full}) {{")
            out += ["        " + line for line in body]
            out.append("    }")
        tagged = sorted([f for f in s.fields if not f.tagged.empty()], key=lambda f: f.tag)
        out.append("    if (flexible) {")
        out.append("        tagged_fields known;")
        for f in tagged:
            cond = version_cond(f.tagged.intersect(f.versions))
            out.append(f"        if (({cond}) && {f.member} != {self.default_expr(f)}) {{")
            out.append("            writer tw;")
            body = self.encode_value(f, f.member, "tw", "true", version_cond(f.nullable))
            out += ["            " + line for line in body]
            out.append("            w.fail_from(tw);")
            out.append(f"            known.push_back({{{f.tag}, std::move(tw).data()}});")
            out.append("        }")
        out.append("        w.write_tagged_fields(known, unknown_tagged_fields);")
        out.append("    }")
        out.append("}")
        return out

    def source(self):
        out = []
        for s in self.msg.structs:
            out += self.decode_fn(s)
            out.append("")
            out += self.encode_fn(s)
            out.append("")
        return out

    # ---- samples for the round-trip tests ----------------------------------------------
    def sample_fns(self):
        out = []
        for s in self.msg.structs:
            out.append(f"void fill_sample({self.struct_type(s)}& s, [[maybe_unused]] int16_t v, int depth) {{")
            out.append("    if (depth > 8) return;")
            for i, f in enumerate(s.fields):
                cond = version_cond(f.versions)
                if cond == "false":
                    continue
                out.append(f"    if ({cond}) {{")
                out += ["        " + line for line in self.sample_value(f, i)]
                out.append("    }")
            out.append("}")
            out.append("")
        return out

    def sample_scalar(self, f, i, k):
        if f.type == "bool":
            return "false" if self.default_expr(f) == "true" else "true"
        if f.type == "float64":
            return "2.5"
        if f.type == "uuid":
            return "uuid{{" + ", ".join(str((i * 7 + j + k) % 251 + 1) for j in range(16)) + "}}"
        if f.type == "string":
            return f'std::string("{f.member}-{k}")'
        if f.type in ("bytes", "records"):
            return f"bytes{{{i % 256}, {k}, 0xfe, 0x01}}"
        default = self.default_expr(f)
        value = 3 + (i * 13 + k) % 97
        if f"({value})" in default:
            value += 1
        return f"static_cast<{FIXED[f.type][0]}>({value})"

    def sample_value(self, f, i):
        t = self.member_type(f)
        target = f"s.{f.member}"
        if f.is_array:
            lines = [f"auto& vec = {target}{'.emplace()' if self.optional(f) else ''};",
                     "vec.clear();"]
            for k in range(2):
                if f.is_struct:
                    lines.append(f"fill_sample(vec.emplace_back(), v, depth + 1);")
                else:
                    lines.append(f"vec.push_back({self.sample_scalar(f, i, k)});")
            return lines
        if f.is_struct:
            if self.optional(f):
                return [f"fill_sample({target}.emplace(), v, depth + 1);"]
            return [f"fill_sample({target}, v, depth + 1);"]
        del t
        return [f"{target} = {self.sample_scalar(f, i, 1)};"]


def int_literal(v):
    if v == -(2 ** 63):
        return "(-9223372036854775807LL - 1)"
    if -(2 ** 31) < v < 2 ** 31:
        return str(v)
    return f"{v}LL"


def file_stem_of(msg):
    if msg.kind in ("request", "response"):
        base = msg.name[: -len("Request")] if msg.kind == "request" else msg.name[: -len("Response")]
        return snake(base)
    return snake(msg.name)


def load_all(schema_dir):
    msgs = []
    for path in sorted(pathlib.Path(schema_dir).glob("*.json")):
        data = load_schema_text(path.read_text())
        msgs.append(parse_message(data, path.stem))
    return msgs


def group_files(msgs):
    groups = {}
    for m in msgs:
        groups.setdefault(file_stem_of(m), []).append(m)
    for stem in groups:
        groups[stem].sort(key=lambda m: {"request": 0, "response": 1}.get(m.kind, 2))
    return groups


def api_table(msgs):
    apis = {}
    for m in msgs:
        if m.api_key is not None:
            apis.setdefault(m.api_key, {})[m.kind] = m
    out = ["// Generated by tools/kafka_codegen/gen.py: every API key in the schemas. Do not edit.",
           '#include "kafka/protocol/api_table.h"', "", "namespace trib::kafka::protocol {", "",
           "namespace {", "constexpr api_info apis[] = {"]
    for key in sorted(apis):
        req, resp = apis[key]["request"], apis[key]["response"]
        name = req.name[: -len("Request")]
        rf = req.flexible.intersect(req.valid)
        sf = resp.flexible.intersect(resp.valid)
        out.append(f'    {{{key}, "{name}", {{{req.valid.lo}, {req.valid.hi}}}, '
                   f'{rf.lo if not rf.empty() else -1}, {sf.lo if not sf.empty() else -1}}},')
    out += ["};", "}  // namespace", "",
            "std::span<const api_info> all_apis() { return apis; }", "",
            "}  // namespace trib::kafka::protocol", ""]
    return out


def any_message_file(msgs):
    apis = {}
    for m in msgs:
        if m.api_key is not None:
            apis.setdefault(m.api_key, {})[m.kind] = m
    out = ["// Generated by tools/kafka_codegen/gen.py: decoding by run-time API key. Do not edit.",
           '#include "kafka/protocol/any_message.h"', ""]
    out += [f'#include "kafka/protocol/{s}.h"' for s in sorted({file_stem_of(m) for m in msgs
                                                                if m.api_key is not None})]
    out += ["", "namespace trib::kafka::protocol {", "", "namespace {",
            "template <typename Message>",
            "result<bytes> reencode_as(int16_t version, std::span<const uint8_t> body) {",
            "    auto m = decode<Message>(body, version);",
            "    if (!m) return unexpected(m.error());",
            "    return encode(*m, version);", "}", "}  // namespace", "",
            "result<bytes> reencode(int16_t api_key, message_kind kind, int16_t version,",
            "                       std::span<const uint8_t> body) {",
            "    bool request = kind == message_kind::request;",
            "    switch (api_key) {"]
    for key in sorted(apis):
        req, resp = apis[key]["request"].cpp, apis[key]["response"].cpp
        out += [f"        case {key}:",
                f"            return request ? reencode_as<{req}>(version, body)",
                f"                           : reencode_as<{resp}>(version, body);"]
    out += ["        default:", "            return errc::unknown_api_key;", "    }", "}", "",
            "}  // namespace trib::kafka::protocol", ""]
    return out


def samples_file(stem, msgs):
    out = [f"// Generated by tools/kafka_codegen/gen.py: sample values for {stem}. Do not edit.",
           f'#include "kafka/protocol/{stem}.h"', '#include "kafka/protocol/samples.h"', "",
           "namespace trib::kafka::protocol::samples {", ""]
    for m in msgs:
        out += [f"void fill_sample({Gen(m).struct_type(s)}&, int16_t, int);"
                for s in m.structs]
    out.append("")
    for m in msgs:
        out += Gen(m).sample_fns()
        out.append(f"std::string check_{m.cpp}(int16_t version) {{")
        out.append(f"    return roundtrip_check<{m.cpp}>(version, [](auto& m, int16_t v) "
                   "{ fill_sample(m, v, 0); });")
        out.append("}")
        out.append("")
    out += ["}  // namespace trib::kafka::protocol::samples", ""]
    return out


def registry_file(groups):
    out = ["// Generated by tools/kafka_codegen/gen.py: every message's round-trip check.",
           '#include "kafka/protocol/samples.h"', "",
           "namespace trib::kafka::protocol::samples {", ""]
    entries = []
    for stem, msgs in sorted(groups.items()):
        for m in msgs:
            out.append(f"std::string check_{m.cpp}(int16_t version);")
            entries.append(f'    {{"{m.name}", {{{m.valid.lo}, {m.valid.hi}}}, check_{m.cpp}}},')
    out += ["", "namespace {", "const sample_case cases[] = {"] + entries + [
        "};", "}  // namespace", "",
        "std::span<const sample_case> all_cases() { return cases; }", "",
        "}  // namespace trib::kafka::protocol::samples", ""]
    return out


def outputs(groups):
    files = ["kafka/protocol/api_table.cc", "kafka/protocol/any_message.cc",
             "kafka/protocol/samples/registry.cc"]
    for stem in sorted(groups):
        files += [f"kafka/protocol/{stem}.h", f"kafka/protocol/{stem}.cc",
                  f"kafka/protocol/samples/{stem}.cc"]
    return files


def write_if_changed(path, lines):
    text = "\n".join(lines)
    if path.exists() and path.read_text() == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--schemas", required=True)
    ap.add_argument("--out")
    ap.add_argument("--list-outputs", action="store_true")
    args = ap.parse_args()
    msgs = load_all(args.schemas)
    groups = group_files(msgs)
    if args.list_outputs:
        print(";".join(outputs(groups)))
        return
    out = pathlib.Path(args.out)
    for stem, group in groups.items():
        names = ", ".join(f"{m.file_stem}.json" for m in group)
        banner = f"// Generated by tools/kafka_codegen/gen.py from {names}. Do not edit."
        header = [banner, "#pragma once", "", "#include <cstdint>", "#include <optional>",
                  "#include <string>", "#include <vector>", "",
                  '#include "kafka/protocol/wire.h"', "", "namespace trib::kafka::protocol {", ""]
        source = [banner, f'#include "kafka/protocol/{stem}.h"', "",
                  "namespace trib::kafka::protocol {", ""]
        for m in group:
            g = Gen(m)
            header += g.header()
            source += g.source()
        for lines in (header, source):
            lines += ["}  // namespace trib::kafka::protocol", ""]
        write_if_changed(out / f"kafka/protocol/{stem}.h", header)
        write_if_changed(out / f"kafka/protocol/{stem}.cc", source)
        write_if_changed(out / f"kafka/protocol/samples/{stem}.cc", samples_file(stem, group))
    write_if_changed(out / "kafka/protocol/api_table.cc", api_table(msgs))
    write_if_changed(out / "kafka/protocol/any_message.cc", any_message_file(msgs))
    write_if_changed(out / "kafka/protocol/samples/registry.cc", registry_file(groups))


if __name__ == "__main__":
    main()
