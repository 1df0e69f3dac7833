"""The Python part of benches/hand_slim.sh (any Python 3.8+; it never imports the venv's code).

  hand_slim.py size DIR                 "BYTES FILES": apparent bytes and number of regular files,
                                        each inode counted once; symlinks and directories are not
                                        counted (the same measure for every tree)
  hand_slim.py strip DIR PYTHON         GNU `strip --strip-unneeded` on every ELF shared library
                                        under DIR (a name ending in .so or holding .so.), each one
                                        then loaded with `PYTHON -I -c 'ctypes.CDLL(path)'` in its
                                        own process; a library that no longer loads is put back
                                        as it was. Prints one summary line.
  hand_slim.py diff OUT HAND [N]        what OUT holds that HAND does not: regular files by path,
                                        bytes grouped by the highest directory missing from HAND
                                        (or, for files in a directory both have, that directory),
                                        the N largest groups (default 10); then the same totals
                                        the other way and the difference in files both hold.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict


def regular_files(root):
    """(relative path, lstat) of every regular file under root, symlinks never followed."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if st.st_mode & 0o170000 == 0o100000:
                yield os.path.relpath(path, root), st


def size(root):
    seen = set()
    total = files = 0
    for _, st in regular_files(root):
        files += 1
        if (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    print(total, files)


def is_shared_library(rel):
    name = os.path.basename(rel)
    return name.endswith(".so") or ".so." in name


def is_elf(path):
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def loads(python, path):
    code = "import ctypes, sys; ctypes.CDLL(sys.argv[1])"
    run = subprocess.run([python, "-I", "-c", code, path], cwd="/", capture_output=True, timeout=120)
    return run.returncode == 0


def strip(root, python):
    stripped = reverted = failed_before = untouched = saved = 0
    scratch = tempfile.mkdtemp(prefix="hand-strip.")
    try:
        for rel, st in regular_files(root):
            path = os.path.join(root, rel)
            if not is_shared_library(rel) or not is_elf(path):
                continue
            backup = os.path.join(scratch, "orig")
            out = os.path.join(scratch, "stripped")
            shutil.copy2(path, backup)
            run = subprocess.run(["strip", "--strip-unneeded", "-o", out, path], capture_output=True)
            if run.returncode != 0:
                untouched += 1
                continue
            new = os.path.getsize(out)
            os.replace(out, path)
            if loads(python, path):
                stripped += 1
                saved += st.st_size - new
                continue
            os.replace(backup, path)
            reverted += 1
            if not loads(python, path):
                failed_before += 1
                print("  does not load even unstripped: " + rel, file=sys.stderr)
            else:
                print("  reverted (no longer loads once stripped): " + rel, file=sys.stderr)
    finally:
        shutil.rmtree(scratch)
    print(
        f"strip: {stripped} stripped ({saved} bytes saved), {reverted} put back "
        f"({failed_before} of them did not load unstripped either), {untouched} strip refused"
    )


def groups(out, hand):
    """Bytes of OUT's files missing from HAND, by group, and how many files."""
    hand_dirs = {"."}
    for dirpath, dirnames, _ in os.walk(hand):
        for d in dirnames:
            hand_dirs.add(os.path.relpath(os.path.join(dirpath, d), hand))
    by_group = defaultdict(lambda: [0, 0])
    for rel, st in regular_files(out):
        if os.path.lexists(os.path.join(hand, rel)):
            continue
        parts = rel.split(os.sep)[:-1]
        group = "."
        for i in range(1, len(parts) + 1):
            prefix = os.sep.join(parts[:i])
            if prefix not in hand_dirs:
                group = prefix + "/"
                break
            group = prefix + "/ (files)"
        by_group[group][0] += st.st_size
        by_group[group][1] += 1
    return by_group


def common_delta(out, hand):
    delta = 0
    changed = 0
    for rel, st in regular_files(out):
        other = os.path.join(hand, rel)
        if os.path.isfile(other) and not os.path.islink(other):
            d = st.st_size - os.lstat(other).st_size
            if d:
                changed += 1
                delta += d
    return delta, changed


def diff(out, hand, n):
    only_out = groups(out, hand)
    only_hand = groups(hand, out)
    total = lambda g: (sum(b for b, _ in g.values()), sum(f for _, f in g.values()))
    b, f = total(only_out)
    print(f"only in venvslim's output: {b} bytes in {f} files; largest groups:")
    for group, (gb, gf) in sorted(only_out.items(), key=lambda kv: (-kv[1][0], kv[0]))[:n]:
        print(f"  {gb:>12}  {gf:>6} files  {group}")
    b, f = total(only_hand)
    print(f"only in the hand slim: {b} bytes in {f} files; largest groups:")
    for group, (gb, gf) in sorted(only_hand.items(), key=lambda kv: (-kv[1][0], kv[0]))[:n]:
        print(f"  {gb:>12}  {gf:>6} files  {group}")
    delta, changed = common_delta(out, hand)
    print(f"in both, different sizes: {changed} files, venvslim minus hand = {delta} bytes")


def main(argv):
    if len(argv) == 3 and argv[1] == "size":
        size(argv[2])
    elif len(argv) == 4 and argv[1] == "strip":
        strip(argv[2], argv[3])
    elif len(argv) in (4, 5) and argv[1] == "diff":
        diff(argv[2], argv[3], int(argv[4]) if len(argv) == 5 else 10)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
