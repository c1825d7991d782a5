"""The database schema as versioned migration steps, shared by the SQLite and PostgreSQL backends."""
from __future__ import annotations

# Each entry is one migration step (a tuple of statements), applied in order inside one transaction.
# Never edit a released step: append a new one. The schema version is len(MIGRATIONS). Statements
# are written for SQLite; a backend translates the few spellings its database does differently
# (SqlStorage.SPELLINGS), so both databases always have the same tables at the same version.
MIGRATIONS: list[tuple[str, ...]] = [
    (
        """CREATE TABLE users (
            platform TEXT NOT NULL,
            user_id TEXT NOT NULL,
            address TEXT NOT NULL DEFAULT '{}',
            timezone TEXT,
            last_triage_at_ms BIGINT,
            last_triage_level TEXT,
            state TEXT NOT NULL,
            version BIGINT NOT NULL,
            created_ms BIGINT NOT NULL,
            updated_ms BIGINT NOT NULL,
            PRIMARY KEY (platform, user_id))""",
        """CREATE TABLE timers (
            platform TEXT NOT NULL,
            user_id TEXT NOT NULL,
            name TEXT NOT NULL,
            due_ms BIGINT NOT NULL,
            payload TEXT NOT NULL DEFAULT '{}',
            claimed_by TEXT,
            claimed_until_ms BIGINT,
            PRIMARY KEY (platform, user_id, name))""",
        "CREATE INDEX timers_due ON timers (due_ms)",
        """CREATE TABLE history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            platform TEXT NOT NULL,
            user_id TEXT NOT NULL,
            outcome TEXT NOT NULL,
            routine TEXT,
            level TEXT,
            stretches_done INTEGER NOT NULL,
            seconds INTEGER NOT NULL,
            ended_ms BIGINT NOT NULL)""",
        "CREATE INDEX history_user ON history (platform, user_id)",
    ),
]
USER_TABLES = ("users", "timers", "history")  # every table with rows about a user (forget/export)
