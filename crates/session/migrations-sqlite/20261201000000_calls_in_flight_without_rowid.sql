-- SQLite only (run after the shared migrations in ../migrations): the two tables of calls in
-- flight keep their rows in their primary key's b-tree (WITHOUT ROWID), so that a call's
-- start and end each write one b-tree less (the rows are small; the sessions table, whose
-- records are not, keeps its rowid).
CREATE TABLE reservations_keyed (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    spend TEXT NOT NULL,
    expires_at BIGINT NOT NULL
) WITHOUT ROWID;

INSERT INTO reservations_keyed (id, session_id, spend, expires_at)
    SELECT id, session_id, spend, expires_at FROM reservations;

DROP TABLE reservations;

ALTER TABLE reservations_keyed RENAME TO reservations;

CREATE INDEX reservations_by_session ON reservations (session_id);

CREATE TABLE nonce_leases_keyed (
    account TEXT NOT NULL,
    chain_id BIGINT NOT NULL,
    nonce_key BIGINT NOT NULL,
    token TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (account, chain_id, nonce_key)
) WITHOUT ROWID;

INSERT INTO nonce_leases_keyed (account, chain_id, nonce_key, token, expires_at)
    SELECT account, chain_id, nonce_key, token, expires_at FROM nonce_leases;

DROP TABLE nonce_leases;

ALTER TABLE nonce_leases_keyed RENAME TO nonce_leases;
