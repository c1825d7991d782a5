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
    # 2: the transactional outbox (issue 14), its dead letters, the platforms' picture cache, and per-stretch
    # feedback with optional before/after scores (issue 16)
    (
        # The engine's outgoing messages, written in the same transaction as the state they belong to,
        # deleted once sent. kind and safety repeat body's fields so coalescing can pick rows without
        # parsing. A chat's rows go in id order, one at a time (bot/storage/outbox.py).
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            platform TEXT NOT NULL,
            user_id TEXT NOT NULL,
            chat TEXT NOT NULL,
            kind TEXT NOT NULL,
            safety INTEGER NOT NULL,
            body TEXT NOT NULL,
            created_ms BIGINT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT)""",
        "CREATE INDEX outbox_chat ON outbox (chat, id)",
        "CREATE INDEX outbox_user ON outbox (platform, user_id)",
        # One row per chat that has queued messages (deleted when it has none): how many, when its turn
        # comes (ready_ms: 0 for a new conversation, then the time of its last claim, a backoff's end or
        # a lease's end), the id of its first queued row (first come, first served among equals) and the
        # one lease a sender holds on it. Claims walk outbox_chats_ready.
        """CREATE TABLE outbox_chats (
            chat TEXT PRIMARY KEY,
            platform TEXT NOT NULL,
            pending INTEGER NOT NULL,
            ready_ms BIGINT NOT NULL,
            first_id BIGINT NOT NULL,
            head_id BIGINT,
            claimed_by TEXT,
            claimed_at_ms BIGINT)""",
        "CREATE INDEX outbox_chats_ready ON outbox_chats (ready_ms, first_id)",
        """CREATE TABLE dead_letters (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            platform TEXT NOT NULL,
            user_id TEXT NOT NULL,
            chat TEXT NOT NULL,
            kind TEXT NOT NULL,
            safety INTEGER NOT NULL,
            body TEXT NOT NULL,
            created_ms BIGINT NOT NULL,
            attempts INTEGER NOT NULL,
            failed_ms BIGINT NOT NULL,
            reason TEXT NOT NULL)""",
        "CREATE INDEX dead_letters_user ON dead_letters (platform, user_id)",
        # a picture uploaded once is sent again by the file id the platform gave it (not about a user)
        """CREATE TABLE media (
            platform TEXT NOT NULL,
            digest TEXT NOT NULL,
            file_id TEXT NOT NULL,
            created_ms BIGINT NOT NULL,
            PRIMARY KEY (platform, digest))""",
        """CREATE TABLE feedback (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            platform TEXT NOT NULL,
            user_id TEXT NOT NULL,
            at_ms BIGINT NOT NULL,
            routine TEXT NOT NULL,
            stretch TEXT NOT NULL,
            rating TEXT NOT NULL,
            hold_seconds INTEGER NOT NULL)""",
        "CREATE INDEX feedback_user ON feedback (platform, user_id, at_ms)",
        "ALTER TABLE history ADD COLUMN score_before INTEGER",
        "ALTER TABLE history ADD COLUMN score_after INTEGER",
    ),
    # 3: per user, the newest platform input number each of their chats' steps came from (JSON: chat ->
    # number), written with the step: an input a platform delivers again after a crash (Telegram: an
    # update handled, then the process killed before it confirmed it) is recognised and not handled twice
    ("ALTER TABLE users ADD COLUMN inputs TEXT NOT NULL DEFAULT '{}'",),
]
# every table with rows about a user (forget/export); each has platform and user_id columns
USER_TABLES = ("users", "timers", "history", "outbox", "dead_letters", "feedback")
