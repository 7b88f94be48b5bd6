"""The model of Kafka's JSON message definitions (clients/src/main/resources/common/message).

load_message(path) parses one file into a Message: its versions, flexible versions and a tree
of Structs and Fields, with every struct type (inline or from commonStructs) collected into
Message.structs in declaration order (a struct before any struct that uses it).
"""

import json
import re

MAX_VERSION = 0x7FFF

# Kafka primitive type -> C++ type.
FIXED_TYPES = {
    "int8": "int8_t",
    "int16": "int16_t",
    "int32": "int32_t",
    "int64": "int64_t",
    "uint16": "uint16_t",
    "uint32": "uint32_t",
    "float64": "double",
    "bool": "bool",
    "uuid": "Uuid",
}
LENGTH_TYPES = ("string", "bytes", "records")

CPP_KEYWORDS = {
    "alignas", "alignof", "and", "asm", "auto", "bool", "break", "case", "catch", "char",
    "class", "const", "continue", "default", "delete", "do", "double", "else", "enum",
    "explicit", "export", "extern", "false", "float", "for", "friend", "goto", "if", "inline",
    "int", "long", "mutable", "namespace", "new", "noexcept", "not", "operator", "or",
    "private", "protected", "public", "register", "return", "short", "signed", "sizeof",
    "static", "struct", "switch", "template", "this", "throw", "true", "try", "typedef",
    "typeid", "typename", "union", "unsigned", "using", "virtual", "void", "volatile", "while",
    "version", "flexible",  # names the generated code itself uses
}


class SchemaError(Exception):
    pass


def strip_comments(text):
    """Removes // comments that are outside string literals."""
    out = []
    for line in text.split("\n"):
        in_string = False
        i = 0
        while i < len(line):
            c = line[i]
            if in_string:
                if c == "\\":
                    i += 1
                elif c == '"':
                    in_string = False
            elif c == '"':
                in_string = True
            elif line.startswith("//", i):
                line = line[:i]
                break
            i += 1
        out.append(line)
    return "\n".join(out)


def snake_case(name):
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.lower()


class Versions:
    """An inclusive version range; empty when lo > hi."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    @staticmethod
    def parse(spec):
        spec = spec.strip()
        if spec == "none":
            return Versions(1, 0)
        if spec.endswith("+"):
            return Versions(int(spec[:-1]), MAX_VERSION)
        if "-" in spec:
            lo, hi = spec.split("-")
            return Versions(int(lo), int(hi))
        return Versions(int(spec), int(spec))

    def empty(self):
        return self.lo > self.hi

    def contains(self, v):
        return self.lo <= v <= self.hi

    def intersect(self, other):
        return Versions(max(self.lo, other.lo), min(self.hi, other.hi))

    def covers(self, other):
        return other.empty() or (self.lo <= other.lo and other.hi <= self.hi)

    def __eq__(self, other):
        return (self.empty() and other.empty()) or (self.lo, self.hi) == (other.lo, other.hi)

    def __iter__(self):
        return iter(range(self.lo, self.hi + 1))

    def __str__(self):
        if self.empty():
            return "none"
        if self.hi == MAX_VERSION:
            return "%d+" % self.lo
        return "%d" % self.lo if self.lo == self.hi else "%d-%d" % (self.lo, self.hi)


class Field:
    def __init__(self, spec, valid):
        self.name = spec["name"]
        self.member = snake_case(self.name)
        if self.member in CPP_KEYWORDS:
            self.member += "_"
        self.type = spec["type"]
        self.is_array = self.type.startswith("[]")
        self.elem = self.type[2:] if self.is_array else self.type
        self.versions = Versions.parse(spec["versions"]).intersect(valid)
        self.nullable = Versions.parse(spec.get("nullableVersions", "none")).intersect(self.versions)
        self.tagged = Versions.parse(spec.get("taggedVersions", "none")).intersect(self.versions)
        self.tag = spec.get("tag")
        self.flexible_override = (Versions.parse(spec["flexibleVersions"])
                                  if "flexibleVersions" in spec else None)
        self.default = spec.get("default")
        self.about = spec.get("about", "")
        self.inline_fields = spec.get("fields")
        self.struct = None  # the Struct of a struct or struct-array field, once resolved
        if not self.tagged.empty() and self.tag is None:
            raise SchemaError("%s: taggedVersions without a tag" % self.name)
        if self.is_struct() and not self.is_array and not self.nullable.empty():
            raise SchemaError("%s: nullable struct fields are not supported" % self.name)

    def is_struct(self):
        return self.elem not in FIXED_TYPES and self.elem not in LENGTH_TYPES

    def is_optional(self):
        """Whether the C++ member is std::optional (nullable in some version)."""
        return not self.nullable.empty() and self.type != "records"


class Struct:
    def __init__(self, name, fields):
        self.name = name
        self.fields = fields

    def tagged_fields(self):
        return sorted((f for f in self.fields if not f.tagged.empty()), key=lambda f: f.tag)


class Message:
    def __init__(self, spec):
        self.name = spec["name"]
        self.type = spec["type"]
        self.api_key = spec.get("apiKey")
        self.valid = Versions.parse(spec["validVersions"])
        self.flexible = Versions.parse(spec.get("flexibleVersions", "none")).intersect(self.valid)
        self.latest_unstable = bool(spec.get("latestVersionUnstable", False))
        self.structs = []  # nested struct types, dependencies first
        common = {cs["name"]: cs["fields"] for cs in spec.get("commonStructs", [])}
        inline = {}
        self.root = Struct(self.name, self._fields(spec["fields"], inline))
        done = set()
        self._resolve(self.root, inline, common, done)
        unused = set(common) - done
        if unused:
            raise SchemaError("%s: unused common structs %s" % (self.name, sorted(unused)))

    def first_flexible(self):
        return -1 if self.flexible.empty() else self.flexible.lo

    def _fields(self, specs, inline):
        fields = [Field(s, self.valid) for s in specs]
        for f in fields:
            if f.is_struct() and f.inline_fields is not None:
                if f.elem in inline:
                    raise SchemaError("%s: struct %s defined twice" % (self.name, f.elem))
                inline[f.elem] = self._fields(f.inline_fields, inline)
        tags = [f.tag for f in fields if f.tag is not None]
        if len(tags) != len(set(tags)):
            raise SchemaError("%s: duplicate tags %s" % (self.name, tags))
        return fields

    def _resolve(self, struct, inline, common, done):
        """Attaches Struct objects to fields and appends them to self.structs in post-order."""
        for f in struct.fields:
            if not f.is_struct():
                continue
            if f.elem not in done:
                if f.elem not in inline:
                    if f.elem not in common:
                        raise SchemaError("%s: unknown type %s" % (self.name, f.elem))
                    inline[f.elem] = self._fields(common[f.elem], inline)
                done.add(f.elem)
                fields = inline[f.elem]
                child = Struct(f.elem, fields)
                self._resolve(child, inline, common, done)
                self.structs.append(child)
            f.struct = next(s for s in self.structs if s.name == f.elem)


def load_message(path):
    with open(path, encoding="utf-8") as f:
        return Message(json.loads(strip_comments(f.read())))
