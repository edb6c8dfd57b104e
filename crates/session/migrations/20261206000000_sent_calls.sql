-- Calls a worker sent and has not settled yet, kept from the server's acknowledgement until the
-- worker settles them. A worker that dies stops renewing its row; the next call on the session
-- takes the row (once lapsed) and settles the call from the chain, by its call id, so no spend
-- is forgotten. `body` is JSON: the call's reservations, its nonce lease, whether it installs
-- the session's key.
CREATE TABLE sent_calls (
    call_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    body TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX sent_calls_by_session ON sent_calls (session_id);
