-- Sessions requested and verified, waiting for their owner's signature (two-phase grants), kept
-- in the store so that any worker of a fleet can complete one another requested. `body` is
-- JSON: the verified request (`PendingSession`) and where the session key lives.
CREATE TABLE pending_sessions (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
