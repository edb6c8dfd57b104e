-- sesskey session store: sessions and their spent budgets, outstanding reservations, and the
-- parallel nonce keys leased to calls in flight. Written to run unchanged on SQLite and
-- PostgreSQL. Amounts are JSON text (they exceed SQL integers).
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    spent TEXT NOT NULL,
    revoked BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE reservations (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    spend TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX reservations_by_session ON reservations (session_id);

CREATE TABLE nonce_leases (
    account TEXT NOT NULL,
    chain_id BIGINT NOT NULL,
    nonce_key BIGINT NOT NULL,
    token TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (account, chain_id, nonce_key)
);

CREATE TABLE imports (
    source TEXT PRIMARY KEY
);
