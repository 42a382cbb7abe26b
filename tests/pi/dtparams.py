#!/usr/bin/env python3
"""Apply Raspberry Pi overlay parameters (dtoverlay=NAME,param=value) to a .dtbo.

No Debian tool understands the Pi firmware's /__overrides__ node (fdtoverlay
merges fragments only), so this is a small re-implementation of the part of
the firmware's / dtoverlay's parameter handling that overlays use, written from
the Raspberry Pi documentation ("Device Trees, overlays, and parameters",
part 2.2). It patches the *overlay* exactly as the firmware does before the
merge; the patched overlay is then applied with the ordinary fdtoverlay.

Declarations understood (each parameter = a list of targets):
  <&label>,"prop"            string; "status" maps y/yes/on/true/enable/1 ->
                             "okay" and n/no/off/false/0 -> "disabled";
                             "name" renames the node; "bootargs" appends
  <&label>,"prop.N"          8-bit integer at byte offset N
  <&label>,"prop;N"          16-bit
  <&label>,"prop:N"          32-bit (one DT cell)
  <&label>,"prop#N"          64-bit
  <&label>,"prop?"           boolean (present = true)
  <&label>,"prop!"           inverted boolean
  <&label>,"prop[N"          byte string ("aa:bb:cc" or "aabbcc")
  ...,"prop=VALUE"           literal assignment (user's value ignored)
  ...,"prop:N=",<cell>       literal cell assignment
  <0>,"+N-N=N!N"             enable/disable fragment N (__overlay__ <-> __dormant__)
Integer values: C strtoull base 0, or y/yes/on/true/down = 1, n/no/off/false = 0,
up = 2. Integer writes may create or extend a property (zero padded), except
"reg", whose write at offset 0 renames the node's unit address instead.
Lookup tables ("prop{a=b,...}") are not implemented: such a declaration is
reported as an error, never silently ignored.

Usage:
  dtparams.py list OVERLAY.dtbo                       parameter names, one a line
  dtparams.py show OVERLAY.dtbo                       names and decoded targets
  dtparams.py apply IN.dtbo OUT.dtbo [param=value ...]
Exit status: 0 ok, 1 bad parameter / declaration, 2 usage or unreadable file.
"""

import struct
import sys

FDT_MAGIC = 0xD00DFEED
FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_NOP, FDT_END = 1, 2, 3, 4, 9


class ParamError(Exception):
    pass


class Node:
    def __init__(self, name):
        self.name = name
        self.props = {}  # name -> bytes, insertion ordered
        self.children = []

    def child(self, name):
        for c in self.children:
            if c.name == name:
                return c
        return None

    def walk(self, path=""):
        here = path + "/" + self.name if path not in ("", "/") else "/" + self.name
        if self.name == "":
            here = "/"
        yield here, self
        for c in self.children:
            yield from c.walk(here)


class Fdt:
    """Minimal flattened-device-tree reader/writer (format version 17)."""

    def __init__(self, blob):
        hdr = struct.unpack_from(">10I", blob, 0)
        (magic, _total, off_struct, off_strings, off_rsv, version, _last,
         self.boot_cpuid, size_strings, size_struct) = hdr
        if magic != FDT_MAGIC:
            raise ValueError("not a flattened device tree (bad magic)")
        if version < 16:
            raise ValueError("FDT version %d is too old" % version)
        self.rsv = []
        off = off_rsv
        while True:
            addr, size = struct.unpack_from(">QQ", blob, off)
            off += 16
            if addr == 0 and size == 0:
                break
            self.rsv.append((addr, size))
        strings = blob[off_strings:off_strings + size_strings]
        pos = off_struct
        end = off_struct + size_struct
        stack = []
        self.root = None
        while pos < end:
            (tok,) = struct.unpack_from(">I", blob, pos)
            pos += 4
            if tok == FDT_BEGIN_NODE:
                nul = blob.index(b"\0", pos)
                node = Node(blob[pos:nul].decode())
                pos = (nul + 4) & ~3
                if stack:
                    stack[-1].children.append(node)
                else:
                    self.root = node
                stack.append(node)
            elif tok == FDT_END_NODE:
                stack.pop()
            elif tok == FDT_PROP:
                length, nameoff = struct.unpack_from(">II", blob, pos)
                pos += 8
                pname = strings[nameoff:strings.index(b"\0", nameoff)].decode()
                stack[-1].props[pname] = bytes(blob[pos:pos + length])
                pos = (pos + length + 3) & ~3
            elif tok == FDT_NOP:
                continue
            elif tok == FDT_END:
                break
            else:
                raise ValueError("bad FDT token %#x at %#x" % (tok, pos - 4))

    def to_bytes(self):
        strings = bytearray()
        str_off = {}
        st = bytearray()

        def emit(node):
            st.extend(struct.pack(">I", FDT_BEGIN_NODE))
            name = node.name.encode() + b"\0"
            st.extend(name + b"\0" * (-len(name) % 4))
            for pname, val in node.props.items():
                if pname not in str_off:
                    str_off[pname] = len(strings)
                    strings.extend(pname.encode() + b"\0")
                st.extend(struct.pack(">III", FDT_PROP, len(val), str_off[pname]))
                st.extend(val + b"\0" * (-len(val) % 4))
            for c in node.children:
                emit(c)
            st.extend(struct.pack(">I", FDT_END_NODE))

        emit(self.root)
        st.extend(struct.pack(">I", FDT_END))
        rsv = b"".join(struct.pack(">QQ", a, s) for a, s in self.rsv) + b"\0" * 16
        off_rsv = 40
        off_struct = off_rsv + len(rsv)
        off_strings = off_struct + len(st)
        total = off_strings + len(strings)
        hdr = struct.pack(">10I", FDT_MAGIC, total, off_struct, off_strings, off_rsv,
                          17, 16, self.boot_cpuid, len(strings), len(st))
        return hdr + rsv + bytes(st) + bytes(strings)

    def by_path(self, path):
        node = self.root
        for part in [p for p in path.split("/") if p]:
            node = node.child(part)
            if node is None:
                return None
        return node

    def by_phandle(self, ph):
        for _path, node in self.root.walk():
            for key in ("phandle", "linux,phandle"):
                v = node.props.get(key)
                if v is not None and len(v) == 4 and struct.unpack(">I", v)[0] == ph:
                    return node
        return None


# ---------------------------------------------------------------- parsing

INT_SIZES = {".": 1, ";": 2, ":": 4, "#": 8}
SEPARATORS = ".;:#?![{="


def parse_targets(name, data):
    """Split one __overrides__ property into a list of target dicts."""
    targets = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 4 + 2:
            raise ParamError("parameter %s: declaration is truncated" % name)
        (ph,) = struct.unpack_from(">I", data, pos)
        pos += 4
        nul = data.find(b"\0", pos)
        if nul < 0:
            raise ParamError("parameter %s: string is not NUL-terminated" % name)
        spec = data[pos:nul].decode()
        pos = nul + 1
        t = {"phandle": ph, "spec": spec}
        if ph == 0:
            t["kind"] = "fragments"
            t["ops"] = spec
            targets.append(t)
            continue
        cut = len(spec)
        for i, ch in enumerate(spec):
            if ch in SEPARATORS:
                cut = i
                break
        t["prop"] = spec[:cut]
        rest = spec[cut:]
        t["kind"], t["offset"], t["size"] = "string", 0, 0
        if rest[:1] in INT_SIZES:
            t["kind"], t["size"] = "int", INT_SIZES[rest[0]]
            digits = ""
            rest = rest[1:]
            while rest[:1].isdigit():
                digits += rest[0]
                rest = rest[1:]
            if not digits:
                raise ParamError("parameter %s: '%s' lacks a byte offset" % (name, spec))
            t["offset"] = int(digits)
        elif rest[:1] == "?":
            t["kind"], rest = "bool", rest[1:]
        elif rest[:1] == "!":
            t["kind"], rest = "notbool", rest[1:]
        elif rest[:1] == "[":
            t["kind"], rest = "bytes", rest[1:]
            digits = ""
            while rest[:1].isdigit():
                digits += rest[0]
                rest = rest[1:]
            t["offset"] = int(digits) if digits else 0
        if rest[:1] == "{":
            raise ParamError("parameter %s: lookup tables ('%s') are not supported by "
                             "this tool" % (name, spec))
        if rest[:1] == "=":
            literal = rest[1:]
            if literal == "" and t["kind"] == "int":
                # "prop:N=",<cell>: the value is the next cell of the declaration
                if len(data) - pos < 4:
                    raise ParamError("parameter %s: missing cell after '%s'" % (name, spec))
                (cell,) = struct.unpack_from(">I", data, pos)
                pos += 4
                literal = str(cell)
            t["literal"] = literal
        elif rest:
            raise ParamError("parameter %s: cannot parse '%s'" % (name, spec))
        targets.append(t)
    return targets


# ---------------------------------------------------------------- values

TRUE_WORDS = ("y", "yes", "on", "true", "down")
FALSE_WORDS = ("n", "no", "off", "false")


def to_int(name, value):
    # C strtoull(value, &end, 0) with nothing left over: 0x hex, 0 octal, decimal
    try:
        if value[:2].lower() == "0x":
            return int(value[2:], 16)
        if len(value) > 1 and value.startswith("0"):
            return int(value[1:], 8)
        return int(value, 10)
    except ValueError:
        pass
    if value in TRUE_WORDS:
        return 1
    if value in FALSE_WORDS:
        return 0
    if value == "up":
        return 2
    raise ParamError("parameter %s: invalid integer value '%s'" % (name, value))


def apply_one(fdt, name, value):
    ov = fdt.by_path("/__overrides__")
    if ov is None or name not in ov.props:
        raise ParamError("unknown parameter '%s'" % name)
    for t in parse_targets(name, ov.props[name]):
        val = t.get("literal", value)
        if t["kind"] == "fragments":
            apply_fragment_ops(fdt, name, t["ops"], val)
            continue
        node = fdt.by_phandle(t["phandle"])
        if node is None:
            raise ParamError("parameter %s: phandle %d not found" % (name, t["phandle"]))
        prop, kind = t["prop"], t["kind"]
        if kind == "string":
            if prop == "status":
                if val in ("y", "yes", "on", "true", "enable", "1"):
                    val = "okay"
                elif val in ("n", "no", "off", "false", "0"):
                    val = "disabled"
            if prop == "name":
                node.name = val
            elif prop == "bootargs" and node.props.get(prop, b"\0")[:-1]:
                node.props[prop] = node.props[prop][:-1] + b" " + val.encode() + b"\0"
            else:
                node.props[prop] = val.encode() + b"\0"
        elif kind == "int":
            n = to_int(name, val) & ((1 << (8 * t["size"])) - 1)
            off, size = t["offset"], t["size"]
            if prop == "reg":
                # pseudo-property: never created or extended; offset 0 renames
                if prop in node.props and len(node.props[prop]) >= off + size:
                    buf = bytearray(node.props[prop])
                    buf[off:off + size] = n.to_bytes(size, "big")
                    node.props[prop] = bytes(buf)
                if off == 0 and "@" in node.name:
                    node.name = node.name.split("@", 1)[0] + "@%x" % n
                continue
            buf = bytearray(node.props.get(prop, b""))
            if len(buf) < off + size:
                buf.extend(b"\0" * (off + size - len(buf)))
            buf[off:off + size] = n.to_bytes(size, "big")
            node.props[prop] = bytes(buf)
        elif kind in ("bool", "notbool"):
            truth = to_int(name, val) != 0
            if kind == "notbool":
                truth = not truth
            if truth:
                node.props[prop] = b""
            else:
                node.props.pop(prop, None)
        elif kind == "bytes":
            hexs = val.replace(":", "")
            try:
                raw = bytes.fromhex(hexs)
            except ValueError:
                raise ParamError("parameter %s: invalid byte string '%s'" % (name, val))
            buf = bytearray(node.props.get(prop, b""))
            off = t["offset"]
            if len(buf) < off + len(raw):
                buf.extend(b"\0" * (off + len(raw) - len(buf)))
            buf[off:off + len(raw)] = raw
            node.props[prop] = bytes(buf)


def apply_fragment_ops(fdt, name, ops, value):
    truth = to_int(name, value) != 0
    i = 0
    while i < len(ops):
        op = ops[i]
        j = i + 1
        while j < len(ops) and ops[j].isdigit():
            j += 1
        if op not in "+-=!" or j == i + 1:
            raise ParamError("parameter %s: invalid fragment operation '%s'" % (name, ops))
        num = int(ops[i + 1:j])
        active = op == "+" or (op == "=" and truth) or (op == "!" and not truth)
        frag = fdt.by_path("/fragment@%d" % num) or fdt.by_path("/fragment-%d" % num)
        if frag is None:
            raise ParamError("parameter %s: fragment %d not found" % (name, num))
        want, other = ("__overlay__", "__dormant__") if active else ("__dormant__", "__overlay__")
        sub = frag.child(other)
        if sub is not None:
            sub.name = want
        i = j


# ---------------------------------------------------------------- main

def describe(t):
    if t["kind"] == "fragments":
        return "fragments %s" % t["ops"]
    s = "phandle %d %s %s" % (t["phandle"], t["kind"], t["prop"])
    if t["kind"] in ("int", "bytes"):
        s += " @%d" % t["offset"]
    if "literal" in t:
        s += " = %s (literal)" % t["literal"]
    return s


def main(argv):
    if len(argv) < 3 or argv[1] not in ("list", "show", "apply"):
        print(__doc__.split("Usage:")[1].split("Exit")[0], file=sys.stderr)
        return 2
    try:
        with open(argv[2], "rb") as f:
            fdt = Fdt(f.read())
    except (OSError, ValueError, struct.error) as e:
        print("dtparams: %s: %s" % (argv[2], e), file=sys.stderr)
        return 2
    ov = fdt.by_path("/__overrides__")
    try:
        if argv[1] == "list":
            for name in (ov.props if ov else {}):
                print(name)
            return 0
        if argv[1] == "show":
            for name, data in (ov.props if ov else {}).items():
                for t in parse_targets(name, data):
                    print("%s: %s" % (name, describe(t)))
            return 0
        if len(argv) < 4:
            print("dtparams: apply needs IN and OUT", file=sys.stderr)
            return 2
        for arg in argv[4:]:
            if "=" not in arg:
                raise ParamError("'%s' is not param=value" % arg)
            pname, value = arg.split("=", 1)
            apply_one(fdt, pname, value)
    except ParamError as e:
        print("dtparams: %s" % e, file=sys.stderr)
        return 1
    with open(argv[3], "wb") as f:
        f.write(fdt.to_bytes())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
