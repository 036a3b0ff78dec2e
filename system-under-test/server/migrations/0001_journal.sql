-- The served stack's journal: every call that reached the stack and every tick of its
-- time-driven work, in the order the stack carried them. Replaying it into an empty stack gives
-- the state back (the stack is deterministic), so a restart loses nothing that was acknowledged.
-- The same SQL runs on SQLite and PostgreSQL.
CREATE TABLE journal (
    seq BIGINT PRIMARY KEY,
    -- The server's clock (milliseconds since the stack's first start) when the stack carried it.
    at_ms BIGINT NOT NULL,
    -- 'command' (body holds the envelope as JSON) or 'advance' (body is empty).
    kind TEXT NOT NULL,
    body TEXT NOT NULL
);
