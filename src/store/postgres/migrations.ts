// PostgreSQL schema migrations: MIGRATIONS[i] upgrades schema_version i → i+1. Never edit a released
// step. They run at open, each in its own transaction, under a session advisory lock held on one
// client for the whole run, so that replicas starting at once migrate one after the other (the later
// ones find nothing left to do). A database whose version is newer than this code knows refuses to open.
// The tables are SQLite's (times in bigint ms, JSON in text columns, tags also in tag tables for the
// Describe filters), plus what a store shared by replicas keeps in the database: request limits. Text
// columns are COLLATE "C": byte-wise comparison as SQLite's BINARY (ids, names, states are compared for
// equality, never sorted by language), and cheaper in every index than the database's locale.
import type pg from 'pg';
import { StoreOpenError } from '../../domain/errors.ts';

/** The key of the advisory lock that serialises migrations (any fixed bigint of our own). */
const MIGRATION_LOCK = 7_262_110_842_113_001;

const ACTIVE = `state IN ('SUBMITTED','PENDING','RUNNABLE','STARTING','RUNNING') OR next_action <> ''`;

export const MIGRATIONS: string[] = [
  // 1: jobs, tasks, instances, attempts, samples; job counts per owner and state kept by triggers in
  // the transaction of the change; the partial index of active jobs (loadActive reads no finished history)
  `
  CREATE SEQUENCE job_seq;
  CREATE TABLE jobs (
    id text COLLATE "C" PRIMARY KEY,
    seq bigint NOT NULL UNIQUE,
    account text COLLATE "C" NOT NULL,
    region text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    description text COLLATE "C" NOT NULL,
    priority integer NOT NULL,
    zone text COLLATE "C" NOT NULL,
    state text COLLATE "C" NOT NULL,
    state_reason text COLLATE "C" NOT NULL,
    next_action text COLLATE "C" NOT NULL,
    create_time bigint NOT NULL,
    end_time bigint,
    client_token text COLLATE "C",
    tags text COLLATE "C" NOT NULL,
    spec text COLLATE "C" NOT NULL
  );
  CREATE UNIQUE INDEX jobs_client_token ON jobs (account, region, client_token) WHERE client_token IS NOT NULL;
  CREATE INDEX jobs_by_owner ON jobs (account, region, seq);
  CREATE INDEX jobs_active ON jobs (seq) WHERE ${ACTIVE};
  CREATE TABLE job_tags (
    job_id text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    value text COLLATE "C" NOT NULL,
    PRIMARY KEY (job_id, key)
  );
  CREATE INDEX job_tags_by_key ON job_tags (key, value);
  CREATE TABLE tasks (
    job_id text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    ord integer NOT NULL,
    spec text COLLATE "C" NOT NULL,
    instance_num integer NOT NULL,
    state text COLLATE "C" NOT NULL,
    create_time bigint NOT NULL,
    end_time bigint,
    counts text COLLATE "C" NOT NULL,
    cursor integer NOT NULL,
    wait_state text COLLATE "C" NOT NULL,
    wait_reason text COLLATE "C" NOT NULL,
    wait_detail text COLLATE "C" NOT NULL,
    wait_end_time bigint,
    PRIMARY KEY (job_id, name)
  );
  CREATE TABLE instances (
    job_id text COLLATE "C" NOT NULL,
    task_name text COLLATE "C" NOT NULL,
    idx integer NOT NULL,
    state text COLLATE "C" NOT NULL,
    attempt integer NOT NULL,
    retry_base integer NOT NULL,
    exit_code integer,
    state_reason text COLLATE "C" NOT NULL,
    state_detail text COLLATE "C" NOT NULL,
    node_id text COLLATE "C",
    create_time bigint NOT NULL,
    launch_time bigint,
    running_time bigint,
    end_time bigint,
    handle text COLLATE "C",
    PRIMARY KEY (job_id, task_name, idx)
  );
  CREATE INDEX instances_by_state ON instances (job_id, task_name, state, idx);
  CREATE TABLE attempts (
    job_id text COLLATE "C" NOT NULL,
    task_name text COLLATE "C" NOT NULL,
    idx integer NOT NULL,
    attempt integer NOT NULL,
    launch_time bigint NOT NULL,
    running_time bigint,
    end_time bigint,
    exit_code integer,
    signal text COLLATE "C",
    reason text COLLATE "C" NOT NULL,
    node_id text COLLATE "C",
    PRIMARY KEY (job_id, task_name, idx, attempt)
  );
  CREATE TABLE monitor_samples (
    job_id text COLLATE "C" NOT NULL,
    task_name text COLLATE "C" NOT NULL,
    idx integer NOT NULL,
    attempt integer NOT NULL,
    ts bigint NOT NULL,
    cpu double precision NOT NULL,
    mem double precision NOT NULL,
    disk double precision NOT NULL,
    PRIMARY KEY (job_id, task_name, idx, ts, attempt)
  );
  CREATE TABLE job_counts (
    account text COLLATE "C" NOT NULL,
    region text COLLATE "C" NOT NULL,
    state text COLLATE "C" NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (account, region, state)
  );
  CREATE FUNCTION job_counts_change() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
      UPDATE job_counts SET n = n - 1 WHERE account = OLD.account AND region = OLD.region AND state = OLD.state;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
      INSERT INTO job_counts (account, region, state, n) VALUES (NEW.account, NEW.region, NEW.state, 1)
        ON CONFLICT (account, region, state) DO UPDATE SET n = job_counts.n + 1;
    END IF;
    RETURN NULL;
  END $$;
  CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION job_counts_change();
  CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs FOR EACH ROW EXECUTE FUNCTION job_counts_change();
  CREATE TRIGGER job_counts_state AFTER UPDATE OF state ON jobs FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION job_counts_change();
  `,
  // 2: task templates, compute environments (ClientToken unique per owner where given), their nodes
  // and activities; seqs from sequences (bigserial), in insertion order
  `
  CREATE TABLE task_templates (
    id text COLLATE "C" PRIMARY KEY,
    seq bigserial NOT NULL UNIQUE,
    account text COLLATE "C" NOT NULL,
    region text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    description text COLLATE "C" NOT NULL,
    info text COLLATE "C" NOT NULL,
    create_time bigint NOT NULL,
    tags text COLLATE "C" NOT NULL
  );
  CREATE INDEX task_templates_by_owner ON task_templates (account, region, seq);
  CREATE TABLE task_template_tags (
    template_id text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    value text COLLATE "C" NOT NULL,
    PRIMARY KEY (template_id, key)
  );
  CREATE TABLE compute_envs (
    id text COLLATE "C" PRIMARY KEY,
    seq bigserial NOT NULL UNIQUE,
    account text COLLATE "C" NOT NULL,
    region text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    description text COLLATE "C" NOT NULL,
    zone text COLLATE "C" NOT NULL,
    info text COLLATE "C" NOT NULL,
    desired integer NOT NULL,
    next_action text COLLATE "C" NOT NULL,
    create_time bigint NOT NULL,
    tags text COLLATE "C" NOT NULL,
    client_token text COLLATE "C" NOT NULL DEFAULT ''
  );
  CREATE INDEX compute_envs_by_owner ON compute_envs (account, region, seq);
  CREATE UNIQUE INDEX compute_envs_client_token ON compute_envs (account, region, client_token) WHERE client_token <> '';
  CREATE TABLE compute_env_tags (
    env_id text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    value text COLLATE "C" NOT NULL,
    PRIMARY KEY (env_id, key)
  );
  CREATE TABLE compute_nodes (
    id text COLLATE "C" PRIMARY KEY,
    env_id text COLLATE "C" NOT NULL,
    instance_id text COLLATE "C" NOT NULL UNIQUE,
    instance_type text COLLATE "C" NOT NULL,
    state text COLLATE "C" NOT NULL,
    cpu integer NOT NULL,
    mem integer NOT NULL,
    origin text COLLATE "C" NOT NULL,
    created_time bigint NOT NULL,
    seq bigserial NOT NULL
  );
  CREATE INDEX compute_nodes_by_env ON compute_nodes (env_id, seq);
  CREATE TABLE env_activities (
    id text COLLATE "C" PRIMARY KEY,
    seq bigserial NOT NULL,
    env_id text COLLATE "C" NOT NULL,
    node_id text COLLATE "C" NOT NULL,
    type text COLLATE "C" NOT NULL,
    cause text COLLATE "C" NOT NULL,
    state text COLLATE "C" NOT NULL,
    reason text COLLATE "C" NOT NULL,
    start_time bigint NOT NULL,
    end_time bigint,
    instance_id text COLLATE "C"
  );
  CREATE INDEX env_activities_by_env ON env_activities (env_id, seq);
  CREATE INDEX env_activities_by_node ON env_activities (env_id, node_id, seq);
  `,
  // 3: the leadership lease (one row, there from the start: holder '' while nobody holds it; the epoch
  // is kept so that the next holder gets epoch + 1), the command queue (bigserial ids, never reused),
  // the kept reasons of refused commands, and the request limits shared by every replica: token
  // buckets and used keys (keys as bytea: they may hold characters text cannot)
  `
  CREATE TABLE leadership (
    id integer PRIMARY KEY CHECK (id = 1),
    holder text COLLATE "C" NOT NULL,
    epoch bigint NOT NULL,
    expires_at bigint NOT NULL,
    since bigint NOT NULL
  );
  INSERT INTO leadership (id, holder, epoch, expires_at, since) VALUES (1, '', 0, 0, 0);
  CREATE TABLE commands (
    id bigserial PRIMARY KEY,
    kind text COLLATE "C" NOT NULL,
    payload text COLLATE "C" NOT NULL,
    created_at bigint NOT NULL
  );
  CREATE TABLE command_refusals (
    id bigint PRIMARY KEY,
    reason text COLLATE "C" NOT NULL,
    at bigint NOT NULL
  );
  CREATE INDEX command_refusals_by_time ON command_refusals (at);
  CREATE TABLE rate_buckets (
    key bytea PRIMARY KEY,
    tokens double precision NOT NULL,
    updated_at bigint NOT NULL
  );
  CREATE INDEX rate_buckets_by_time ON rate_buckets (updated_at);
  CREATE TABLE used_keys (
    key bytea PRIMARY KEY,
    at bigint NOT NULL
  );
  CREATE INDEX used_keys_by_time ON used_keys (at);
  `,
  // 4: the registry of replicas (Store.registerReplica): where each is reached, its last heartbeat
  `
  CREATE TABLE replicas (
    id text COLLATE "C" PRIMARY KEY,
    url text COLLATE "C" NOT NULL,
    last_seen bigint NOT NULL
  );
  `,
  // 5: listing that does not grow with history (issue 14): jobs_by_owner_state (an owner's jobs of one
  // state, newest first); job_facets, one row per job and value of each other DescribeJobs filter
  // (job-name, zone, tag-key, tag-value, tag:<key>) keyed (owner, filter, value, seq) so that a filter's
  // value is one range, newest first; job_facet_counts, how many jobs each range holds. Kept by triggers
  // from the jobs row (name, zone and the tags JSON never change after insertJob) in the transaction of
  // the change; counts are changed in (facet, value) order, so that concurrent inserts and deletes lock
  // them in one order. The triggers are made before the fill: their lock on jobs holds off inserts of
  // replicas still running older code until this step commits, so no job is missed. job_tags stays
  // (older replicas read it), its index by key goes (no read uses it).
  `
  DROP INDEX IF EXISTS job_tags_by_key;
  CREATE INDEX jobs_by_owner_state ON jobs (account, region, state, seq);
  CREATE TABLE job_facets (
    account text COLLATE "C" NOT NULL,
    region text COLLATE "C" NOT NULL,
    facet text COLLATE "C" NOT NULL,
    value text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    PRIMARY KEY (account, region, facet, value, seq)
  );
  CREATE TABLE job_facet_counts (
    account text COLLATE "C" NOT NULL,
    region text COLLATE "C" NOT NULL,
    facet text COLLATE "C" NOT NULL,
    value text COLLATE "C" NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (account, region, facet, value)
  );
  CREATE FUNCTION job_facet_values(name text, zone text, tags text) RETURNS TABLE (facet text, value text)
  LANGUAGE sql IMMUTABLE AS $$
    SELECT DISTINCT f.facet COLLATE "C", f.value COLLATE "C" FROM (
      SELECT 'job-name' AS facet, name AS value
      UNION ALL SELECT 'zone', zone
      UNION ALL SELECT 'tag-key', t ->> 'Key' FROM json_array_elements(tags::json) t
      UNION ALL SELECT 'tag-value', t ->> 'Value' FROM json_array_elements(tags::json) t
      UNION ALL SELECT 'tag:' || (t ->> 'Key'), t ->> 'Value' FROM json_array_elements(tags::json) t
    ) f WHERE f.facet IS NOT NULL AND f.value IS NOT NULL
  $$;
  CREATE FUNCTION job_facets_change() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP = 'DELETE' THEN
      WITH gone AS (
        DELETE FROM job_facets f USING job_facet_values(OLD.name, OLD.zone, OLD.tags) v
        WHERE f.account = OLD.account AND f.region = OLD.region AND f.facet = v.facet AND f.value = v.value AND f.seq = OLD.seq
        RETURNING f.facet, f.value
      ), counted AS (
        SELECT c.facet, c.value FROM job_facet_counts c JOIN gone g ON c.facet = g.facet AND c.value = g.value
        WHERE c.account = OLD.account AND c.region = OLD.region ORDER BY c.facet, c.value FOR UPDATE OF c
      )
      UPDATE job_facet_counts c SET n = c.n - 1 FROM counted
      WHERE c.account = OLD.account AND c.region = OLD.region AND c.facet = counted.facet AND c.value = counted.value;
      DELETE FROM job_facet_counts c USING job_facet_values(OLD.name, OLD.zone, OLD.tags) v
      WHERE c.account = OLD.account AND c.region = OLD.region AND c.facet = v.facet AND c.value = v.value AND c.n <= 0;
    ELSE
      WITH added AS (
        INSERT INTO job_facets (account, region, facet, value, seq)
        SELECT NEW.account, NEW.region, v.facet, v.value, NEW.seq FROM job_facet_values(NEW.name, NEW.zone, NEW.tags) v
        ON CONFLICT DO NOTHING
        RETURNING facet, value
      )
      INSERT INTO job_facet_counts (account, region, facet, value, n)
      SELECT NEW.account, NEW.region, a.facet, a.value, 1 FROM added a ORDER BY a.facet, a.value
      ON CONFLICT (account, region, facet, value) DO UPDATE SET n = job_facet_counts.n + 1;
    END IF;
    RETURN NULL;
  END $$;
  CREATE TRIGGER job_facets_insert AFTER INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION job_facets_change();
  CREATE TRIGGER job_facets_delete AFTER DELETE ON jobs FOR EACH ROW EXECUTE FUNCTION job_facets_change();
  INSERT INTO job_facets (account, region, facet, value, seq)
    SELECT j.account, j.region, v.facet, v.value, j.seq FROM jobs j, LATERAL job_facet_values(j.name, j.zone, j.tags) v
    ON CONFLICT DO NOTHING;
  INSERT INTO job_facet_counts (account, region, facet, value, n)
    SELECT account, region, facet, value, count(*) FROM job_facets GROUP BY account, region, facet, value;
  `,
  // 6: state-change events (issue 15): rows of consecutive Seqs (first … last) of one account, region
  // and job, the JSON array of their events; event_seq, the last Seq given (its row lock, held by the
  // writing transaction until it commits, orders the commits as the Seqs); the durable positions of
  // their readers (webhook topics)
  `
  CREATE TABLE events (
    first bigint PRIMARY KEY,
    last bigint NOT NULL,
    account text NOT NULL,
    region text NOT NULL,
    job_id text,
    body text NOT NULL
  );
  CREATE TABLE event_seq (
    id integer PRIMARY KEY CHECK (id = 1),
    last bigint NOT NULL
  );
  INSERT INTO event_seq (id, last) VALUES (1, 0);
  CREATE TABLE event_cursors (
    name text PRIMARY KEY,
    seq bigint NOT NULL
  );
  `,
  // 7: cheaper scheduler batches. An attempt's row is written as it launches and updated as it ends
  // (no indexed column changes): pages filled to 70 % leave the room for that update to stay on its
  // page (a HOT update: no new index entry). Events' bodies (a batch's are one JSON text of ~150 KB)
  // compress with lz4 rather than pglz, several times faster, where the server was built with it
  // (else they keep pglz). Both apply to rows written from now on.
  `
  ALTER TABLE attempts SET (fillfactor = 70);
  DO $$ BEGIN
    ALTER TABLE events ALTER COLUMN body SET COMPRESSION lz4;
  EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN NULL;
  END $$;
  `,
  // 8: TotalCount of a job state and a facet asked together (issue 14), without counting the matches of
  // either: job_facet_finished_counts holds, per owner, facet value and finished state, how many finished
  // jobs have that value (the active ones are few and counted from their own index). An insert or delete
  // of a finished job changes its counts by a row trigger (one job a statement); a state change by a
  // statement trigger over the statement's transition tables, whose changes are summed and applied in
  // key order — a scheduler batch finishing many jobs and a deleteJob beside it lock the count rows in
  // one order. Filled from the jobs the database holds after the triggers exist (their lock on jobs
  // holds off writers until the step commits).
  `
  CREATE TABLE job_facet_finished_counts (
    account text COLLATE "C" NOT NULL,
    region text COLLATE "C" NOT NULL,
    facet text COLLATE "C" NOT NULL,
    value text COLLATE "C" NOT NULL,
    state text COLLATE "C" NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (account, region, facet, value, state)
  );
  CREATE FUNCTION job_finished_counts_row() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP = 'INSERT' THEN
      INSERT INTO job_facet_finished_counts AS c (account, region, facet, value, state, n)
      SELECT NEW.account, NEW.region, v.facet, v.value, NEW.state, 1 FROM job_facet_values(NEW.name, NEW.zone, NEW.tags) v ORDER BY v.facet, v.value
      ON CONFLICT (account, region, facet, value, state) DO UPDATE SET n = c.n + 1;
    ELSE
      UPDATE job_facet_finished_counts c SET n = c.n - 1 FROM job_facet_values(OLD.name, OLD.zone, OLD.tags) v
      WHERE c.account = OLD.account AND c.region = OLD.region AND c.facet = v.facet AND c.value = v.value AND c.state = OLD.state;
      DELETE FROM job_facet_finished_counts c USING job_facet_values(OLD.name, OLD.zone, OLD.tags) v
      WHERE c.account = OLD.account AND c.region = OLD.region AND c.facet = v.facet AND c.value = v.value AND c.state = OLD.state AND c.n <= 0;
    END IF;
    RETURN NULL;
  END $$;
  CREATE FUNCTION job_finished_counts_moved() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO job_facet_finished_counts AS c (account, region, facet, value, state, n)
    SELECT d.account, d.region, d.facet, d.value, d.state, sum(d.k) FROM (
      SELECT o.account, o.region, v.facet, v.value, o.state, -1 AS k
      FROM old_jobs o JOIN new_jobs n ON n.id = o.id AND n.state <> o.state, LATERAL job_facet_values(o.name, o.zone, o.tags) v
      WHERE o.state IN ('SUCCEED', 'FAILED', 'FAILED_INTERRUPTED')
      UNION ALL
      SELECT n.account, n.region, v.facet, v.value, n.state, 1
      FROM old_jobs o JOIN new_jobs n ON n.id = o.id AND n.state <> o.state, LATERAL job_facet_values(n.name, n.zone, n.tags) v
      WHERE n.state IN ('SUCCEED', 'FAILED', 'FAILED_INTERRUPTED')
    ) d GROUP BY d.account, d.region, d.facet, d.value, d.state HAVING sum(d.k) <> 0
    ORDER BY d.account, d.region, d.facet, d.value, d.state
    ON CONFLICT (account, region, facet, value, state) DO UPDATE SET n = c.n + excluded.n;
    DELETE FROM job_facet_finished_counts c
    USING old_jobs o JOIN new_jobs n ON n.id = o.id AND n.state <> o.state, LATERAL job_facet_values(o.name, o.zone, o.tags) v
    WHERE o.state IN ('SUCCEED', 'FAILED', 'FAILED_INTERRUPTED') AND c.account = o.account AND c.region = o.region
      AND c.facet = v.facet AND c.value = v.value AND c.state = o.state AND c.n <= 0;
    RETURN NULL;
  END $$;
  CREATE TRIGGER job_finished_counts_insert AFTER INSERT ON jobs FOR EACH ROW
    WHEN (NEW.state IN ('SUCCEED', 'FAILED', 'FAILED_INTERRUPTED')) EXECUTE FUNCTION job_finished_counts_row();
  CREATE TRIGGER job_finished_counts_delete AFTER DELETE ON jobs FOR EACH ROW
    WHEN (OLD.state IN ('SUCCEED', 'FAILED', 'FAILED_INTERRUPTED')) EXECUTE FUNCTION job_finished_counts_row();
  CREATE TRIGGER job_finished_counts_moved AFTER UPDATE ON jobs REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION job_finished_counts_moved();
  INSERT INTO job_facet_finished_counts (account, region, facet, value, state, n)
    SELECT j.account, j.region, v.facet, v.value, j.state, count(*) FROM jobs j, LATERAL job_facet_values(j.name, j.zone, j.tags) v
    WHERE j.state IN ('SUCCEED', 'FAILED', 'FAILED_INTERRUPTED') GROUP BY j.account, j.region, v.facet, v.value, j.state;
  `,
];

/** The schema version of this code. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Bring the database up to SCHEMA_VERSION, on `c` (a client held for the whole run). */
export async function migrate(c: pg.ClientBase): Promise<void> {
  await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await c.query(`CREATE TABLE IF NOT EXISTS schema_version (
      id integer PRIMARY KEY CHECK (id = 1),
      version integer NOT NULL
    )`);
    await c.query('INSERT INTO schema_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING');
    const version = (await c.query<{ version: number }>('SELECT version FROM schema_version WHERE id = 1')).rows[0]!.version;
    if (version > SCHEMA_VERSION) {
      throw new StoreOpenError(`the database schema is at version ${version} but this OpenBatch knows only up to ${SCHEMA_VERSION}: `
        + 'it is older than the replicas that upgraded the database; upgrade it');
    }
    for (let v = version; v < SCHEMA_VERSION; v++) {
      await c.query('BEGIN');
      try {
        await c.query(MIGRATIONS[v]!);
        await c.query('UPDATE schema_version SET version = $1 WHERE id = 1', [v + 1]);
        await c.query('COMMIT');
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    }
  } finally {
    await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
  }
}
