# SPDX-License-Identifier: MIT
"""The layering test: every `#include "ctml/..."` or `<ctml/...>` in include/ctml/** and tools/**
must follow an edge of ALLOWED (the folder map of ../shared/DESIGN.md and the README's repository
map). A violation is reported as file:line: from-area -> to-area (the include), and the test
fails.

Rules besides the table:
- includes within one area are free (its detail/ folder belongs to it);
- ctml/config.hpp may be included from anywhere; the umbrella ctml/ctml.hpp may include
  anything, but nothing inside the library includes the umbrella (it would pull every area);
- kernels/cpu and kernels/cuda are separate: neither includes the other;
- a folder that is not in the table is itself a violation (add it to the table first).

Usage: test_layering.py [ROOT]   (ROOT defaults to $CTML_SOURCE_DIR, else this file's repository)
       test_layering.py --self-test   (checks the checker on a small tree with known violations)
"""
import os
import re
import sys
import tempfile

ALLOWED = {
    "core": set(),
    "io": {"core"},
    "data": {"core"},
    "nn": {"core"},
    "optim": {"core"},
    "kernels": {"core"},
    "engine": {"core", "nn", "optim", "kernels", "data"},
    "dist": {"core", "data", "nn", "engine"},
    "train": {"core", "io", "nn", "optim", "data", "engine", "run", "model"},
    "model": {"core", "io", "nn"},
    "run": {"core", "io"},
    "workspace": {"core", "io", "run"},
    "compute": {"core", "io", "run", "workspace"},
    "tools": {"core", "io", "run", "workspace", "compute"},
}

# Files that are not in an area folder.
FREE_TARGETS = {"config.hpp"}   # included from anywhere
UMBRELLA = "ctml.hpp"           # includes anything; included by no library header

SOURCE_EXTENSIONS = (".hpp", ".h", ".cuh", ".cu", ".cpp", ".cc", ".ipp", ".inl")
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"](ctml/[^">]+)[">]')


def area_of_header(rel):
    """Area of a path below include/ctml/: ('kernels', 'cpu') for kernels/cpu/x.hpp,
    ('core', None) for core/detail/y.hpp, (None, None) for config.hpp or ctml.hpp."""
    parts = rel.split("/")
    if len(parts) == 1:
        return None, None
    if parts[0] == "kernels" and len(parts) > 2:
        return "kernels", parts[1]
    return parts[0], None


def strip_comments(lines):
    """Lines with /* ... */ blocks blanked, so a commented-out include does not count."""
    out, in_block = [], False
    for line in lines:
        text = line
        if in_block:
            end = text.find("*/")
            if end < 0:
                out.append("")
                continue
            text = " " * (end + 2) + text[end + 2:]
            in_block = False
        while True:
            start = text.find("/*")
            if start < 0:
                break
            end = text.find("*/", start + 2)
            if end < 0:
                text = text[:start]
                in_block = True
                break
            text = text[:start] + " " * (end + 2 - start) + text[end + 2:]
        out.append(text)
    return out


def sources(root):
    """(path shown, from-area, from-sub) for every source file to check."""
    inc = os.path.join(root, "include", "ctml")
    for base, dirs, files in os.walk(inc):
        dirs.sort()
        for f in sorted(files):
            if f.endswith(SOURCE_EXTENSIONS):
                path = os.path.join(base, f)
                rel = os.path.relpath(path, inc).replace(os.sep, "/")
                area, sub = area_of_header(rel)
                if area is None:
                    area = "umbrella" if rel == UMBRELLA else "config" if rel in FREE_TARGETS else rel
                yield os.path.relpath(path, root), area, sub
    tools = os.path.join(root, "tools")
    for base, dirs, files in os.walk(tools):
        dirs.sort()
        for f in sorted(files):
            if f.endswith(SOURCE_EXTENSIONS):
                yield os.path.relpath(os.path.join(base, f), root), "tools", None


def check(root):
    """The violations under root, as 'file:line: from -> to (#include "...")' strings."""
    violations = []
    for shown, area, sub in sources(root):
        with open(os.path.join(root, shown), encoding="utf-8", errors="replace") as fh:
            lines = strip_comments(fh.read().splitlines())
        for number, line in enumerate(lines, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            target = m.group(1)[len("ctml/"):]
            where = "%s:%d" % (shown, number)
            inc = '#include "ctml/%s"' % target
            to_area, to_sub = area_of_header(target)
            if area == "umbrella" or target in FREE_TARGETS:
                continue
            if area == "config":
                violations.append("%s: config.hpp -> %s (%s): config.hpp includes nothing of ctml"
                                  % (where, to_area or target, inc))
                continue
            if target == UMBRELLA:
                violations.append("%s: %s -> umbrella (%s): nothing in the library includes "
                                  "the umbrella header; include what is used" % (where, area, inc))
                continue
            if to_area is None:
                violations.append("%s: %s -> %s (%s): not a header of an area"
                                  % (where, area, target, inc))
                continue
            if area not in ALLOWED:
                violations.append("%s: %s -> %s (%s): the folder %s is not in the allowed list"
                                  % (where, area, to_area, inc, area))
                continue
            if to_area not in ALLOWED:
                violations.append("%s: %s -> %s (%s): the folder %s is not in the allowed list"
                                  % (where, area, to_area, inc, to_area))
                continue
            if to_area == area:
                if area == "kernels" and sub and to_sub and sub != to_sub:
                    violations.append("%s: kernels/%s -> kernels/%s (%s): the CPU and CUDA "
                                      "kernels do not include each other"
                                      % (where, sub, to_sub, inc))
                continue
            if to_area not in ALLOWED[area]:
                allowed = " ".join(sorted(ALLOWED[area])) or "nothing"
                violations.append("%s: %s -> %s (%s): %s may include only: %s"
                                  % (where, area, to_area, inc, area, allowed))
    return violations


def self_test():
    """The checker finds each kind of violation in a small tree, and passes a clean one."""
    with tempfile.TemporaryDirectory() as root:
        def put(rel, text):
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as fh:
                fh.write(text)
        put("include/ctml/core/a.hpp", '#include "ctml/config.hpp"\n#include <ctml/core/b.hpp>\n')
        put("include/ctml/nn/n.hpp", '#include "ctml/core/a.hpp"\n// #include "ctml/train/x.hpp"\n'
            '/* #include "ctml/train/y.hpp" */\n')
        put("include/ctml/ctml.hpp", '#include "ctml/train/t.hpp"\n')
        if check(root):
            print("self-test: a clean tree reported violations:", check(root))
            return False
        put("include/ctml/nn/bad.hpp", '#include "ctml/kernels/cpu/gemm.hpp"\n')
        put("include/ctml/kernels/cpu/k.hpp", '\n#include <ctml/kernels/cuda/c.cuh>\n')
        put("include/ctml/io/u.hpp", '#include "ctml/ctml.hpp"\n')
        put("include/ctml/gizmo/g.hpp", '#include "ctml/core/a.hpp"\n')
        put("tools/main.cpp", '#include <ctml/nn/n.hpp>\n')
        found = check(root)
        expected = [
            "include/ctml/gizmo/g.hpp:1: gizmo -> core",
            "include/ctml/io/u.hpp:1: io -> umbrella",
            "include/ctml/kernels/cpu/k.hpp:2: kernels/cpu -> kernels/cuda",
            "include/ctml/nn/bad.hpp:1: nn -> kernels",
            "tools/main.cpp:1: tools -> nn",
        ]
        ok = len(found) == len(expected) and all(
            any(v.startswith(e) for v in found) for e in expected)
        if not ok:
            print("self-test: expected violations", expected, "found", found)
        return ok


def main(argv):
    if len(argv) > 1 and argv[1] == "--self-test":
        return 0 if self_test() else 1
    if not self_test():
        return 1
    root = argv[1] if len(argv) > 1 else os.environ.get("CTML_SOURCE_DIR") or os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    violations = check(root)
    checked = sum(1 for _ in sources(root))
    for v in violations:
        print(v)
    if violations:
        print("layering: %d include edge(s) outside the allowed list in %d files (the list is "
              "ALLOWED in tests/layering/test_layering.py and the README's repository map)"
              % (len(violations), checked))
        return 1
    print("layering: %d files, every include edge allowed" % checked)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
