"""The SQLite store's schema, its version, and the steps that upgrade an older one."""
from __future__ import annotations

from ..errors import UsageError
from .records import FACT_COLS, meta_facts, parse_meta

SCHEMA_VERSION = 2
READABLE_FROM = 1  # a reader reads versions 1.. without upgrading (2 only added columns)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    project TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    command TEXT,
    cwd TEXT,
    host TEXT,
    pid INTEGER,
    pid_started REAL,
    status TEXT NOT NULL,
    exit_code INTEGER,
    started_at REAL NOT NULL,
    ended_at REAL,
    updated_at REAL NOT NULL,
    duration_s REAL NOT NULL DEFAULT 0,
    energy_j REAL NOT NULL DEFAULT 0,
    interval_s REAL,
    flush_s REAL,
    degraded INTEGER NOT NULL DEFAULT 0,
    total REAL,
    unit TEXT,
    done REAL,
    location TEXT NOT NULL DEFAULT '{}',
    job_id TEXT,
    node TEXT,
    rank INTEGER,
    meta TEXT NOT NULL DEFAULT '{}',
    trial TEXT,               -- the rest: records.META_FACTS and gpus, derived (version 2)
    role TEXT,
    part_of TEXT,
    nested_in TEXT,
    hosts INTEGER,
    gpus INTEGER
);
CREATE INDEX IF NOT EXISTS runs_project ON runs(project, started_at);
CREATE INDEX IF NOT EXISTS runs_trial ON runs(project, trial);
CREATE INDEX IF NOT EXISTS runs_no_facts ON runs(key) WHERE hosts IS NULL;
CREATE INDEX IF NOT EXISTS runs_running ON runs(key) WHERE status = 'running';
CREATE TABLE IF NOT EXISTS domains (
    run INTEGER NOT NULL REFERENCES runs(key) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    label TEXT NOT NULL,
    method TEXT NOT NULL,
    device TEXT,
    node TEXT,
    energy_j REAL NOT NULL DEFAULT 0,
    in_total INTEGER NOT NULL DEFAULT 1,  -- 0: contained in another domain (uncore, or cpu under psys)
    PRIMARY KEY (run, idx)
);
CREATE TABLE IF NOT EXISTS samples (
    run INTEGER NOT NULL,
    t REAL NOT NULL,          -- seconds since the run started
    domain INTEGER NOT NULL,  -- domains.idx
    energy_j REAL NOT NULL,   -- cumulative since the run started
    power_w REAL              -- average over the interval ending at t
);
CREATE INDEX IF NOT EXISTS samples_run_t ON samples(run, t);
CREATE TABLE IF NOT EXISTS windows (
    run INTEGER NOT NULL,
    name TEXT NOT NULL,
    start_s REAL NOT NULL,
    end_s REAL NOT NULL,
    energy TEXT NOT NULL      -- JSON {domain: joules}
);
CREATE INDEX IF NOT EXISTS windows_run ON windows(run);
CREATE TABLE IF NOT EXISTS progress (
    run INTEGER NOT NULL,
    t REAL NOT NULL,
    done REAL NOT NULL,
    total REAL,
    energy_j REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS progress_run ON progress(run, t);
CREATE TABLE IF NOT EXISTS predictions (
    run INTEGER NOT NULL,
    t REAL NOT NULL,
    data TEXT NOT NULL        -- JSON of a Prediction
);
CREATE INDEX IF NOT EXISTS predictions_run ON predictions(run, t);
"""



def fill_facts(db) -> int:
    """Derive the columns of rows that lack them, in the caller's write transaction; returns how
    many. Running runs are left: their writer may be an older wattprint, which rewrites meta
    without them (reading derives them from meta meanwhile)."""
    rows = db.execute("SELECT key, meta, (SELECT count(*) FROM domains d WHERE d.run = runs.key AND d.kind = "
                      "'gpu') FROM runs WHERE hosts IS NULL AND status != 'running'").fetchall()
    db.executemany(f"UPDATE runs SET {', '.join(c + '=?' for c in FACT_COLS)} WHERE key=? AND hosts IS NULL",
                   [(*meta_facts(parse_meta(m)), g, k) for k, m, g in rows])
    return len(rows)


def _to_2(db) -> None:
    """Version 2: the derived columns, filled from each run's meta and domains."""
    for col, typ in (("trial", "TEXT"), ("role", "TEXT"), ("part_of", "TEXT"), ("nested_in", "TEXT"),
                     ("hosts", "INTEGER"), ("gpus", "INTEGER")):
        db.execute(f"ALTER TABLE runs ADD COLUMN {col} {typ}")
    db.execute("CREATE INDEX IF NOT EXISTS runs_trial ON runs(project, trial)")
    db.execute("CREATE INDEX IF NOT EXISTS runs_no_facts ON runs(key) WHERE hosts IS NULL")
    db.execute("CREATE INDEX IF NOT EXISTS runs_running ON runs(key) WHERE status = 'running'")
    fill_facts(db)


# Upgrades from version N to N+1, in order (each takes the connection, in the upgrading
# transaction). Never edit a released step; add one.
MIGRATIONS = [_to_2]


def version(db) -> int | None:
    """The schema version of an open database; None when it has no wattprint tables (a new
    or empty file). Reads only."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "runs" not in tables:
        return None
    if "meta" not in tables:
        return 0
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return int(row[0]) if row else 0


def check(v: int | None, path: str, *, readonly: bool) -> None:
    """``UsageError`` for a schema this wattprint cannot use (newer; older, for a reader)."""
    if v is not None and v > SCHEMA_VERSION:
        raise UsageError(f"{path} was written by a newer wattprint (schema {v} > "
                         f"{SCHEMA_VERSION}): upgrade wattprint")
    if readonly and v is not None and v < READABLE_FROM:
        raise UsageError(f"{path} has an older schema ({v} < {SCHEMA_VERSION}) that reading "
                         "cannot upgrade: run 'wattprint merge --store PATH' once to upgrade it")


def create_or_upgrade(db, path: str) -> None:
    """Bring the database to ``SCHEMA_VERSION``; call inside a write transaction."""
    v = version(db)
    check(v, path, readonly=False)
    if not v:
        for stmt in SCHEMA.split(";"):
            if stmt.strip():
                db.execute(stmt)
        v = SCHEMA_VERSION
    while v < SCHEMA_VERSION:
        MIGRATIONS[v - 1](db)
        v += 1
    db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(v),))
