"""Emits the C++ structs and their Decode/Encode functions for one request/response pair.

Every struct gets `absl::Status Decode(Reader&, int16_t version)` and
`void Encode(Writer&, int16_t version) const`. A field is read or written only in the versions
where it exists; in flexible versions lengths are compact and every struct ends with a
tagged-field section (known tags decoded, unknown tags skipped, non-default tagged fields
written in ascending tag order).
"""

import json
import textwrap

from schema import FIXED_TYPES, SchemaError, Versions, snake_case

INT_LIMITS = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
}


# ---- version conditions ----------------------------------------------------------------------

def version_cond(vs, ctx):
    """C++ condition for `version` in vs, knowing version is in ctx: None = never, "" = always."""
    vs = vs.intersect(ctx)
    if vs.empty():
        return None
    if vs.lo > ctx.lo and vs.hi < ctx.hi:
        return "version == %d" % vs.lo if vs.lo == vs.hi else (
            "version >= %d && version <= %d" % (vs.lo, vs.hi))
    if vs.lo > ctx.lo:
        return "version >= %d" % vs.lo
    if vs.hi < ctx.hi:
        return "version <= %d" % vs.hi
    return ""


def bool_expr(cond):
    return "false" if cond is None else ("true" if cond == "" else cond)


def positional_versions(f):
    """Versions in which f is written in place (present and not tagged)."""
    if f.tagged.empty():
        return f.versions
    if f.tagged.covers(f.versions):
        return Versions(1, 0)
    if f.tagged.hi >= f.versions.hi:
        return Versions(f.versions.lo, f.tagged.lo - 1)
    if f.tagged.lo <= f.versions.lo:
        return Versions(f.tagged.hi + 1, f.versions.hi)
    raise SchemaError("%s: tagged versions in the middle of its versions" % f.name)


def flexible_expr(msg, f=None):
    if f is not None and f.flexible_override is not None:
        return bool_expr(version_cond(f.flexible_override.intersect(msg.flexible), msg.valid))
    return "flexible"


def nullable_expr(f):
    return bool_expr(version_cond(f.nullable, f.versions))


# ---- types and defaults ----------------------------------------------------------------------

def elem_type(f):
    if f.elem in FIXED_TYPES:
        return FIXED_TYPES[f.elem]
    if f.elem in ("string", "bytes"):
        return "std::string"
    if f.elem == "records":
        return "Records"
    return f.elem


def member_type(f):
    t = "std::vector<%s>" % elem_type(f) if f.is_array else elem_type(f)
    return "std::optional<%s>" % t if f.is_optional() else t


def int_literal(f, value):
    lo, hi = INT_LIMITS[f.elem]
    if not lo <= value <= hi:
        raise SchemaError("%s: default %d out of range" % (f.name, value))
    if value == lo and value < 0:
        return "std::numeric_limits<%s>::min()" % FIXED_TYPES[f.elem]
    return str(value)


def default_literal(f):
    """(member initializer, expression) for f's default; the initializer may be empty."""
    d = f.default
    t = member_type(f)
    if f.elem in INT_LIMITS and not f.is_array:
        v = int_literal(f, int(str(d), 0)) if d is not None else "0"
        return " = %s" % v, "%s{%s}" % (t, v)
    if f.elem == "bool" and not f.is_array:
        v = "true" if str(d).lower() == "true" else "false"
        return " = %s" % v, v
    if f.elem == "float64" and not f.is_array:
        v = repr(float(d)) if d is not None else "0.0"
        return " = %s" % v, "double{%s}" % v
    if d == "null":
        if not f.is_optional():
            raise SchemaError("%s: default null but never nullable" % f.name)
        return "", "%s()" % t
    if f.elem in ("string", "bytes") and not f.is_array and d:
        lit = json.dumps(d)
        return "{%s}" % lit, "%s(%s)" % (t, lit)
    if d not in (None, ""):
        raise SchemaError("%s: unsupported default %r" % (f.name, d))
    if f.is_optional():
        return "{std::in_place}", "%s(std::in_place)" % t
    return "{}", "%s{}" % t


# ---- decode / encode statements ----------------------------------------------------------------

def read_elem(f, reader, obj, fx, optional, nl):
    """Status expression decoding one value of f's element type into lvalue `obj`."""
    if f.elem in FIXED_TYPES:
        return "%s.Read(&%s)" % (reader, obj)
    if f.elem in ("string", "bytes"):
        kind = "String" if f.elem == "string" else "Bytes"
        if optional:
            return "%s.ReadNullable%s(%s, %s, &%s)" % (reader, kind, fx, nl, obj)
        return "%s.Read%s(%s, &%s)" % (reader, kind, fx, obj)
    if f.elem == "records":
        return "%s.ReadRecords(%s, %s, &%s)" % (reader, fx, nl, obj)
    return "%s.Decode(%s, version)" % (obj, reader)


def read_field(msg, f, reader):
    fx, nl = flexible_expr(msg, f), nullable_expr(f)
    if not f.is_array:
        return read_elem(f, reader, f.member, fx, f.is_optional(), nl)
    lam = "[&](Reader& er, %s& e) { return %s; }" % (
        elem_type(f), read_elem(f, "er", "e", fx, False, "false"))
    if f.is_optional():
        return "%s.ReadNullableArray(%s, %s, &%s, %s)" % (reader, fx, nl, f.member, lam)
    return "%s.ReadArray(%s, &%s, %s)" % (reader, fx, f.member, lam)


def write_elem(f, writer, obj, fx):
    """Statement encoding one non-null value of f's element type from `obj`."""
    if f.elem in FIXED_TYPES:
        return "%s.Write(%s);" % (writer, obj)
    if f.elem == "string":
        return "%s.WriteString(%s, %s);" % (writer, fx, obj)
    if f.elem == "bytes":
        return "%s.WriteBytes(%s, %s);" % (writer, fx, obj)
    if f.elem == "records":
        return "%s.WriteRecords(%s, %s);" % (writer, fx, obj)
    return "%s.Encode(%s, version);" % (obj, writer)


def write_field(msg, f, writer):
    fx, nl = flexible_expr(msg, f), nullable_expr(f)
    if f.is_array:
        lam = "[&](Writer& ew, const %s& e) { %s }" % (elem_type(f), write_elem(f, "ew", "e", fx))
        if not f.is_optional():
            return "%s.WriteArray(%s, %s, %s);" % (writer, fx, f.member, lam)
        nullable = "%s.WriteNullableArray(%s, %s, %s);" % (writer, fx, f.member, lam)
        empty = "%s.WriteArrayLength(%s, 0);" % (writer, fx)
    elif f.is_optional():
        kind = "String" if f.elem == "string" else "Bytes"
        nullable = "%s.WriteNullable%s(%s, %s);" % (writer, kind, fx, f.member)
        empty = "%s.Write%s(%s, {});" % (writer, kind, fx)
    else:
        return write_elem(f, writer, f.member, fx)
    if nl == "true":
        return nullable
    # Null where this version cannot express it: written as empty (the caller's mistake).
    return "if (!(%s) && !%s.has_value()) { %s } else { %s }" % (nl, f.member, empty, nullable)


# ---- struct emission ---------------------------------------------------------------------------

def guarded(cond, stmt, indent):
    pad = " " * indent
    if cond is None:
        return []
    if cond == "":
        return [pad + stmt]
    return [pad + "if (%s) {" % cond, pad + "  " + stmt, pad + "}"]


def emit_decode(msg, struct, qual, is_root):
    out = ["absl::Status %s::Decode(Reader& r, [[maybe_unused]] int16_t version) {" % qual]
    if is_root:
        out.append('  RETURN_IF_ERROR(CheckVersion("%s", version, kMinVersion, kMaxVersion));'
                   % msg.name)
        out.append("  *this = %s{};" % msg.name)
    out.append("  [[maybe_unused]] const bool flexible = %s;" % bool_expr(
        version_cond(msg.flexible, msg.valid)))
    for f in struct.fields:
        cond = version_cond(positional_versions(f), msg.valid)
        out += guarded(cond, "RETURN_IF_ERROR(%s);" % read_field(msg, f, "r"), 2)
    if not msg.flexible.empty():
        out += emit_decode_tags(msg, struct)
    out += ["  return absl::OkStatus();", "}", ""]
    return out


def emit_decode_tags(msg, struct):
    tagged = struct.tagged_fields()
    if not tagged:
        return ["  if (flexible) RETURN_IF_ERROR(r.SkipTaggedFields());"]
    out = ["  if (flexible) {",
           "    RETURN_IF_ERROR(r.ReadTaggedFields([&](uint32_t tag, Reader& tr) "
           "-> absl::StatusOr<bool> {",
           "      switch (tag) {"]
    for f in tagged:
        cond = version_cond(f.tagged, msg.flexible)  # inside `if (flexible)`
        out.append("        case %d:" % f.tag)
        if cond:
            out.append("          if (!(%s)) return false;" % cond)
        out.append("          RETURN_IF_ERROR(%s);" % read_field(msg, f, "tr"))
        out.append("          return true;")
    out += ["        default:", "          return false;", "      }", "    }));", "  }"]
    return out


def emit_encode(msg, struct, qual, is_root):
    out = ["void %s::Encode(Writer& w, [[maybe_unused]] int16_t version) const {" % qual]
    if is_root:
        out.append("  assert(version >= kMinVersion && version <= kMaxVersion);")
    out.append("  [[maybe_unused]] const bool flexible = %s;" % bool_expr(
        version_cond(msg.flexible, msg.valid)))
    for f in struct.fields:
        out += guarded(version_cond(positional_versions(f), msg.valid), write_field(msg, f, "w"), 2)
    if not msg.flexible.empty():
        out += emit_encode_tags(msg, struct)
    out += ["}", ""]
    return out


def emit_encode_tags(msg, struct):
    tagged = struct.tagged_fields()
    if not tagged:
        return ["  if (flexible) w.WriteEmptyTaggedFields();"]
    out = ["  if (flexible) {"]
    for f in tagged:
        cond = version_cond(f.tagged, msg.flexible)  # inside `if (flexible)`
        differs = "%s != %s" % (f.member, default_literal(f)[1])
        out.append("    const bool has_%s = %s;" % (
            f.member, differs if not cond else "(%s) && %s" % (cond, differs)))
    out.append("    w.WriteUnsignedVarint(%s);" % " + ".join(
        "static_cast<uint32_t>(has_%s)" % f.member for f in tagged))
    for f in tagged:
        out.append("    if (has_%s) {" % f.member)
        out.append("      w.WriteTaggedField(%d, [&](Writer& tw) { %s });" % (
            f.tag, write_field(msg, f, "tw")))
        out.append("    }")
    out.append("  }")
    return out


def field_comment(f, indent):
    notes = ["versions %s" % f.versions]
    if not f.nullable.empty():
        notes.append("nullable %s" % f.nullable)
    if not f.tagged.empty():
        notes.append("tag %d in %s" % (f.tag, f.tagged))
    text = "%s (%s)" % (f.about.strip(), ", ".join(notes)) if f.about.strip() else (
        "(%s)" % ", ".join(notes))
    return textwrap.wrap(text, width=100 - indent - 3, initial_indent=" " * indent + "// ",
                         subsequent_indent=" " * indent + "// ")


def emit_struct_decl(msg, struct, indent, is_root):
    pad = " " * indent
    out = [pad + "struct %s {" % struct.name]
    if is_root:
        if msg.api_key is not None:
            out.append(pad + "  static constexpr int16_t kApiKey = %d;" % msg.api_key)
        out.append(pad + '  static constexpr const char* kName = "%s";' % msg.name)
        out.append(pad + "  static constexpr int16_t kMinVersion = %d;" % msg.valid.lo)
        out.append(pad + "  static constexpr int16_t kMaxVersion = %d;" % msg.valid.hi)
        out.append(pad + "  static constexpr int16_t kFirstFlexibleVersion = %d;"
                   % msg.first_flexible())
        for s in msg.structs:
            out.append("")
            out += emit_struct_decl(msg, s, indent + 2, False)
        out.append("")
    for f in struct.fields:
        out += field_comment(f, indent + 2)
        out.append(pad + "  %s %s%s;" % (member_type(f), f.member, default_literal(f)[0]))
    out += [
        "",
        pad + "  absl::Status Decode(Reader& r, int16_t version);",
        pad + "  void Encode(Writer& w, int16_t version) const;",
        pad + "  bool operator==(const %s&) const = default;" % struct.name,
        pad + "};",
    ]
    return out


def emit_definitions(msg):
    out = []
    for s in msg.structs:
        qual = "%s::%s" % (msg.name, s.name)
        out += emit_decode(msg, s, qual, False) + emit_encode(msg, s, qual, False)
    out += emit_decode(msg, msg.root, msg.name, True) + emit_encode(msg, msg.root, msg.name, True)
    return out


def summary(msg):
    flex = "never flexible" if msg.flexible.empty() else "flexible %s" % msg.flexible
    key = "api key %d, " % msg.api_key if msg.api_key is not None else ""
    return "// %s: %sversions %s, %s." % (msg.name, key, msg.valid, flex)


def usage(messages):
    first, last = messages[0].name, messages[-1].name
    return [
        "//",
        "//   %s in;" % first,
        "//   RETURN_IF_ERROR(in.Decode(reader, version));  // fields absent in `version` keep defaults",
        "//   %s out;" % last,
        "//   out.Encode(writer, version);                  // fields absent in `version` are skipped",
        "//",
        "// Decode returns InvalidArgument for malformed input and Unimplemented for a version outside",
        "// [kMinVersion, kMaxVersion]; Encode requires a valid version (asserted in debug builds).",
        "// Records fields are views into the decoded frame (protocol/types.h).",
    ]


def emit_pair(base, messages, sources):
    """Returns (header text, source text) for the messages of one schema pair."""
    snake = snake_case(base)
    banner = ("// Generated by protocol/codegen/kafka_codegen.py from %s\n"
              "// in protocol/schema/ (Apache Kafka 3.9.0). Do not edit.\n" % " and ".join(sources))
    h = [banner.rstrip("\n")] + usage(messages) + ["#pragma once", ""]
    h += ["#include <array>", "#include <cstdint>", "#include <limits>", "#include <optional>",
          "#include <string>", "#include <vector>", "", '#include "absl/status/status.h"',
          '#include "protocol/reader.h"', '#include "protocol/types.h"',
          '#include "protocol/writer.h"', "", "namespace strata::protocol {", ""]
    cc = [banner.rstrip("\n"), '#include "protocol/%s.h"' % snake, "", "#include <cassert>", "",
          '#include "common/status.h"', "", "namespace strata::protocol {", ""]
    for msg in messages:
        h.append(summary(msg))
        h += emit_struct_decl(msg, msg.root, 0, True)
        h.append("")
        cc += emit_definitions(msg)
    h.append("}  // namespace strata::protocol")
    cc.append("}  // namespace strata::protocol")
    return "\n".join(h) + "\n", "\n".join(cc) + "\n"
