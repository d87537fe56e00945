#!/usr/bin/python3
"""Benign rsync-like copies for threatlens's collector recordings: mirror a tree the way rsync does (each file
written to a hidden temporary name beside its target, then renamed over it), then a second pass after editing a
few sources that copies only what changed, then delete the mirror.

  sync.py DIR         (the mirror goes to DIR.mirror, removed at the end)
Writes {"task", "copied", "updated"} to $WORKLOAD_REPORT (or stdout).
"""
import json
import os
import shutil
import sys


def sync(src: str, dst: str) -> int:
    copied = 0
    for directory, _, files in os.walk(src):
        target_dir = os.path.join(dst, os.path.relpath(directory, src))
        os.makedirs(target_dir, exist_ok=True)
        for name in files:
            source = os.path.join(directory, name)
            target = os.path.join(target_dir, name)
            st = os.stat(source)
            if os.path.exists(target):
                tt = os.stat(target)
                if tt.st_size == st.st_size and int(tt.st_mtime) == int(st.st_mtime):
                    continue
            temporary = os.path.join(target_dir, f".{name}.tmp{os.getpid()}")
            with open(source, "rb") as i, open(temporary, "wb") as o:
                shutil.copyfileobj(i, o)
            os.utime(temporary, (st.st_atime, st.st_mtime))
            os.rename(temporary, target)
            copied += 1
    return copied


src = sys.argv[1].rstrip("/")
dst = src + ".mirror"
copied = sync(src, dst)
edited = 0
for directory, _, files in os.walk(src):
    for name in files[:1]:
        with open(os.path.join(directory, name), "ab") as f:
            f.write(b"\nedited\n")
        edited += 1
updated = sync(src, dst)
shutil.rmtree(dst)
report = json.dumps({"task": "sync", "copied": copied, "updated": updated})
out = os.environ.get("WORKLOAD_REPORT")
if out:
    with open(out, "w") as f:
        f.write(report + "\n")
else:
    print(report)
