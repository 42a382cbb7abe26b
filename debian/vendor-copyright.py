#!/usr/bin/env python3
"""debian/copyright for ledd and the crates vendored in its source package.

usage: debian/vendor-copyright.py VENDOR_DIR            print the file
       debian/vendor-copyright.py VENDOR_DIR --check F  exit 1 unless F is it

VENDOR_DIR is `cargo vendor --locked --versioned-dirs` output for Cargo.lock
(debian/make-source.sh makes it). One Files paragraph per crate, from its own
Cargo.toml (name, version, license, authors); one License paragraph per
license named, its text from /usr/share/common-licenses or from the crate
that ships it. Fails when a crate of Cargo.lock has no directory in
VENDOR_DIR, or a license has no text below: a Cargo.lock change that brings
a new crate or license must come with its debian/copyright (run this and
commit the result; tests/debian13/run.sh checks it).
"""

import pathlib
import re
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent

HEADER = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ledd
Upstream-Contact: Seed 57f52fcb maintainers <maintainers@users.noreply.r-seed-57f52fcb.example>
Source: native package, see the project's repository
Comment: The source package carries the Rust crates of Cargo.lock in
 vendor/ (debian/make-source.sh), so that it builds offline. Their
 paragraphs below are generated from each crate's Cargo.toml by
 debian/vendor-copyright.py; a crate that names no authors is credited to
 "the NAME authors", as its repository lists them.

Files: *
Copyright: 2026 Seed 57f52fcb maintainers
License: MIT or Apache-2.0
"""

# License texts not in /usr/share/common-licenses: (crate, file, first line
# kept). The crates named are in the vendor tree whenever the license is.
TEXT_FROM = {
    "MIT": None,  # written below (every MIT crate has its own notice line)
    "Unlicense": ("memchr", "UNLICENSE", 0),
    "BSD-2-Clause": ("zerocopy", "LICENSE-BSD", 0),
    "Unicode-3.0": ("unicode-ident", "LICENSE-UNICODE", 0),
    # ring's own ISC text, without its copyright line (ring's paragraph has it).
    "ISC": ("ring", "LICENSE-other-bits", 2),
    # /usr/share/common-licenses/BSD is the Regents' text, not subtle's.
    "BSD-3-Clause": ("subtle", "LICENSE", 3),
}

# Crates whose Cargo.toml credits nobody, or not everyone, or whose license
# needs a word: (copyright holders, comment) from the crate's own files.
CRATE_NOTES = {
    "ring": (
        ["Brian Smith", "The OpenSSL Project Authors", "Google Inc.",
         "Intel Corporation", "the fiat-crypto authors"],
        "ring's own code is under the ISC license (LICENSE-other-bits); the\n"
        "code it took from BoringSSL and OpenSSL, and fiat-crypto's, is under\n"
        "the Apache-2.0 license (LICENSE-BoringSSL), as each file's header\n"
        "says: OpenSSL's files carry Apache-2.0 since OpenSSL 3.0, and none\n"
        "is under the old OpenSSL or SSLeay license. src/polyfill/once_cell\n"
        "comes from once_cell (MIT or Apache-2.0).",
    ),
}
COMMON = {
    "Apache-2.0": "Apache-2.0",
    "LGPL-2.1+": "LGPL-2.1",
}

MIT_TEXT = """\
Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
THE SOFTWARE.
"""

LLVM_EXCEPTION = """\
---- LLVM Exceptions to the Apache 2.0 License ----

As an exception, if, as a result of your compiling your source code, portions
of this Software are embedded into an Object form of such source code, you
may redistribute such embedded portions in such Object form without complying
with the conditions of Sections 4(a), 4(b) and 4(d) of the License.

In addition, if you combine or link compiled forms of this Software with
software that is licensed under the GPLv2 ("Combined Software") and if a
court of competent jurisdiction determines that the patent provision (Section
3), the indemnity provision (Section 9) or other Section of the License
conflicts with the conditions of the GPLv2, you may elect to apply the
Apache License to the entirety of the Combined Software, or to comply with
the terms of the GPLv2 instead.
"""


def dep5_license(spdx):
    """An SPDX expression (or cargo's older a/b form) in DEP-5 words."""
    expr = spdx.replace("/", " OR ")
    expr = re.sub(r"\s+OR\s+", " or ", expr)
    expr = re.sub(r"\s+AND\s+", " and ", expr)
    expr = re.sub(r"\s+WITH\s+LLVM-exception", " with LLVM exception", expr)
    expr = expr.replace("LGPL-2.1-or-later", "LGPL-2.1+")
    return expr


def names(expr):
    """The license short names of a DEP-5 expression."""
    expr = expr.replace("(", " ").replace(")", " ")
    expr = expr.replace(" with LLVM exception", "")
    return {n for n in re.split(r"\s+(?:or|and)\s+", expr.strip()) if n}


def block(text):
    """Text as a deb822 continuation: one space, empty lines as ' .'."""
    out = []
    for line in text.rstrip("\n").split("\n"):
        out.append(" " + line.rstrip() if line.strip() else " .")
    return "\n".join(out)


def locked_crates():
    lock = tomllib.loads((ROOT / "Cargo.lock").read_text())
    return sorted(
        (p["name"], p["version"])
        for p in lock["package"]
        if p.get("source", "").startswith("registry+")
    )


def generate(vendor):
    crates = locked_crates()
    paragraphs, used = [], set()
    missing = []
    for name, version in crates:
        d = vendor / f"{name}-{version}"
        if not (d / "Cargo.toml").is_file():
            missing.append(f"{name} {version}")
            continue
        pkg = tomllib.loads((d / "Cargo.toml").read_text())["package"]
        if "license" not in pkg:
            sys.exit(f"vendor-copyright: {name} {version} names no SPDX license")
        lic = dep5_license(pkg["license"])
        used |= names(lic)
        authors = [re.sub(r"\s*<[^>]*>", "", a).strip() for a in pkg.get("authors", [])]
        authors = [a for a in authors if a] or [f"the {name} authors"]
        comment = ""
        if name in CRATE_NOTES:
            authors, note = CRATE_NOTES[name]
            comment = f"Comment:{block(note)}\n"
        paragraphs.append(
            f"Files: vendor/{name}-{version}/*\n"
            f"Copyright: {authors[0]}\n"
            + "".join(f" {a}\n" for a in authors[1:])
            + f"License: {lic}\n"
            + comment
        )
    if missing:
        sys.exit("vendor-copyright: not vendored: " + ", ".join(missing))
    if not vendor.is_dir() or len(list(vendor.iterdir())) != len(crates):
        extra = sorted({p.name for p in vendor.iterdir()} - {f"{n}-{v}" for n, v in crates})
        sys.exit(f"vendor-copyright: in {vendor} but not in Cargo.lock: {extra}")

    licenses = []
    for lic in sorted(used | {"MIT", "Apache-2.0"}):
        if lic == "MIT":
            text = MIT_TEXT
        elif lic in COMMON:
            path = f"/usr/share/common-licenses/{COMMON[lic]}"
            text = f"On Debian systems, the complete text of this license can be found in\n\"{path}\"."
            if lic == "Apache-2.0":
                text += (
                    "\n\nSome crates add the LLVM exception (\"Apache-2.0 with LLVM"
                    " exception\"):\n\n" + LLVM_EXCEPTION
                )
        elif lic in TEXT_FROM:
            crate, fname, first = TEXT_FROM[lic]
            dirs = sorted(vendor.glob(f"{crate}-[0-9]*"))
            if not dirs:
                sys.exit(f"vendor-copyright: no text for {lic}: {crate} is not vendored")
            text = "".join((dirs[-1] / fname).read_text().splitlines(True)[first:])
        else:
            sys.exit(f"vendor-copyright: no license text known for {lic}: add it to {__file__}")
        licenses.append(f"License: {lic}\n{block(text)}\n")
    return HEADER + "\n" + "\n".join(paragraphs) + "\n" + "\n".join(licenses)


def main():
    if len(sys.argv) not in (2, 4) or (len(sys.argv) == 4 and sys.argv[2] != "--check"):
        sys.exit(__doc__)
    text = generate(pathlib.Path(sys.argv[1]))
    if len(sys.argv) == 2:
        sys.stdout.write(text)
        return
    have = pathlib.Path(sys.argv[3]).read_text()
    if have != text:
        import difflib

        sys.stdout.writelines(
            difflib.unified_diff(
                have.splitlines(True), text.splitlines(True), sys.argv[3], "generated"
            )
        )
        sys.exit(f"vendor-copyright: {sys.argv[3]} is not what Cargo.lock's crates need; "
                 f"regenerate it: debian/vendor-copyright.py {sys.argv[1]} > {sys.argv[3]}")
    print(f"vendor-copyright: {sys.argv[3]} covers all {len(locked_crates())} crates of Cargo.lock")


if __name__ == "__main__":
    main()
