#!/usr/bin/python3
"""Benign database work for threatlens's collector recordings: an SQLite database in rollback-journal mode (every
transaction creates and deletes DB-journal), 300 transactions of inserts and updates, then VACUUM.

  database.py DIR     (the database goes to DIR.db.sqlite, removed at the end)
Writes {"task", "transactions", "rows"} to $WORKLOAD_REPORT (or stdout).
"""
import json
import os
import sqlite3
import sys

path = sys.argv[1].rstrip("/") + ".db.sqlite"
db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA journal_mode=DELETE")
db.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, title TEXT, body TEXT)")
rows = 0
for t in range(300):
    db.execute("BEGIN")
    for k in range(20):
        db.execute("INSERT INTO notes (title, body) VALUES (?, ?)", (f"note {t}-{k}", "text " * 50))
        rows += 1
    db.execute("UPDATE notes SET body = body || '!' WHERE id % 7 = ?", (t % 7,))
    db.execute("COMMIT")
db.execute("VACUUM")
db.close()
os.unlink(path)
report = json.dumps({"task": "database", "transactions": 300, "rows": rows})
out = os.environ.get("WORKLOAD_REPORT")
if out:
    with open(out, "w") as f:
        f.write(report + "\n")
else:
    print(report)
