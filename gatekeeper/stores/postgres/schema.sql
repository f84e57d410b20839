-- The gatekeeper's shared PostgreSQL schema and roles (docs/scaling.md).
-- Apply as a database owner, once and after every upgrade (it is idempotent):
--   psql -v ON_ERROR_STOP=1 -d gatekeeper -f schema.sql
-- Then give every node a login role named after its `node` setting, member of gatekeeper_node:
--   CREATE ROLE pbx_a LOGIN PASSWORD '...' IN ROLE gatekeeper_node;
-- and compliance staff a login role member of gatekeeper_reader.

DO $$ BEGIN CREATE ROLE gatekeeper_node NOLOGIN;
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE gatekeeper_reader NOLOGIN;
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

CREATE SCHEMA IF NOT EXISTS gatekeeper;
REVOKE ALL ON SCHEMA gatekeeper FROM PUBLIC;
GRANT USAGE ON SCHEMA gatekeeper TO gatekeeper_node, gatekeeper_reader;

-- Consents and objections: never deleted, revoked at most once. change_seq orders every
-- change (insert or revocation) in commit order: writers take one transaction-level advisory
-- lock before drawing it, so a replica that has read up to N has seen every change <= N.
CREATE SEQUENCE IF NOT EXISTS gatekeeper.act_changes;
CREATE TABLE IF NOT EXISTS gatekeeper.acts (
    id bigserial PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('consent', 'objection')),
    advertiser text NOT NULL,
    e164 text NOT NULL,
    day date NOT NULL,
    at time,
    source text NOT NULL,
    reference text NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    revoke_reason text NOT NULL DEFAULT '',
    change_seq bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS acts_by_number ON gatekeeper.acts (e164, advertiser);
CREATE INDEX IF NOT EXISTS acts_by_change ON gatekeeper.acts (change_seq);
CREATE UNIQUE INDEX IF NOT EXISTS acts_live_once
    ON gatekeeper.acts (kind, advertiser, e164, day, at, source, reference) NULLS NOT DISTINCT
    WHERE revoked_at IS NULL;

CREATE OR REPLACE FUNCTION gatekeeper.acts_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'acts are never deleted: revoke them';
    END IF;
    IF TG_OP = 'UPDATE' AND (
        OLD.revoked_at IS NOT NULL OR NEW.revoked_at IS NULL
        OR (NEW.id, NEW.kind, NEW.advertiser, NEW.e164, NEW.day, NEW.source, NEW.reference,
            NEW.created_at)
           IS DISTINCT FROM
           (OLD.id, OLD.kind, OLD.advertiser, OLD.e164, OLD.day, OLD.source, OLD.reference,
            OLD.created_at)
        OR NEW.at IS DISTINCT FROM OLD.at
    ) THEN
        RAISE EXCEPTION 'acts are never changed, only revoked once';
    END IF;
    PERFORM pg_advisory_xact_lock(7350001);
    NEW.change_seq := nextval('gatekeeper.act_changes');
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS acts_change ON gatekeeper.acts;
CREATE TRIGGER acts_change BEFORE INSERT OR UPDATE OR DELETE ON gatekeeper.acts
    FOR EACH ROW EXECUTE FUNCTION gatekeeper.acts_change();

CREATE OR REPLACE FUNCTION gatekeeper.acts_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gatekeeper_acts', '');
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS acts_notify ON gatekeeper.acts;
CREATE TRIGGER acts_notify AFTER INSERT OR UPDATE ON gatekeeper.acts
    FOR EACH STATEMENT EXECUTE FUNCTION gatekeeper.acts_notify();

GRANT SELECT, INSERT ON gatekeeper.acts TO gatekeeper_node;
GRANT UPDATE (revoked_at, revoke_reason) ON gatekeeper.acts TO gatekeeper_node;
GRANT USAGE ON SEQUENCE gatekeeper.acts_id_seq, gatekeeper.act_changes TO gatekeeper_node;
GRANT SELECT ON gatekeeper.acts TO gatekeeper_reader;

-- The central decision log: every node's records, as committed in its local hash chain.
-- Nodes may only add their own records (row security: node = their role), in order and linked
-- to the previous one; nobody but the owner may change or remove a row.
CREATE TABLE IF NOT EXISTS gatekeeper.decision_log (
    node text NOT NULL,
    seq bigint NOT NULL,
    id text NOT NULL,
    type text NOT NULL,
    at text NOT NULL,
    kind text NOT NULL,
    campaign text,
    e164 text,
    verdict text,
    reason text,
    uniqueid text,
    body text NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    pbx text,
    shipped_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (node, seq)
);
CREATE INDEX IF NOT EXISTS decision_log_at ON gatekeeper.decision_log (at);
-- The console's pages over every node (gatekeeper/console/central_reader.py, docs/console.md).
CREATE INDEX IF NOT EXISTS decision_log_e164 ON gatekeeper.decision_log (e164, at);
CREATE INDEX IF NOT EXISTS decision_log_campaign ON gatekeeper.decision_log (campaign, at);
CREATE INDEX IF NOT EXISTS decision_log_id ON gatekeeper.decision_log (id);
CREATE INDEX IF NOT EXISTS decision_log_uniqueid ON gatekeeper.decision_log (uniqueid)
    WHERE uniqueid IS NOT NULL;
CREATE INDEX IF NOT EXISTS decision_log_events ON gatekeeper.decision_log (at, node, seq)
    WHERE type IN ('event', 'checkpoint');
-- Each node's list syncs, newest first, for `audit nodes --central` without a scan of its
-- decisions.
CREATE INDEX IF NOT EXISTS decision_log_list_syncs ON gatekeeper.decision_log (node, seq)
    WHERE kind = 'list_sync';

CREATE OR REPLACE FUNCTION gatekeeper.decision_log_link() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    last_seq bigint;
    last_hash text;
BEGIN
    SELECT seq, hash INTO last_seq, last_hash FROM gatekeeper.decision_log
        WHERE node = NEW.node ORDER BY seq DESC LIMIT 1;
    IF FOUND AND (NEW.seq <> last_seq + 1 OR NEW.prev_hash <> last_hash) THEN
        RAISE EXCEPTION 'node % record % does not follow % (%)',
            NEW.node, NEW.seq, last_seq, last_hash;
    END IF;
    NEW.shipped_at := now();
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS decision_log_link ON gatekeeper.decision_log;
CREATE TRIGGER decision_log_link BEFORE INSERT ON gatekeeper.decision_log
    FOR EACH ROW EXECUTE FUNCTION gatekeeper.decision_log_link();

ALTER TABLE gatekeeper.decision_log ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS node_adds_own ON gatekeeper.decision_log;
CREATE POLICY node_adds_own ON gatekeeper.decision_log FOR INSERT TO gatekeeper_node
    WITH CHECK (node = current_user);
DROP POLICY IF EXISTS node_reads_own ON gatekeeper.decision_log;
CREATE POLICY node_reads_own ON gatekeeper.decision_log FOR SELECT TO gatekeeper_node
    USING (node = current_user);
DROP POLICY IF EXISTS reader_reads_all ON gatekeeper.decision_log;
CREATE POLICY reader_reads_all ON gatekeeper.decision_log FOR SELECT TO gatekeeper_reader
    USING (true);
REVOKE ALL ON gatekeeper.decision_log FROM PUBLIC;
GRANT SELECT, INSERT ON gatekeeper.decision_log TO gatekeeper_node;
GRANT SELECT ON gatekeeper.decision_log TO gatekeeper_reader;
