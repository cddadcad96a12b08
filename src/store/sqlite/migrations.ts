// SQLite schema migrations; index i upgrades user_version i → i+1. Never edit a released step. Steps
// from 5 on are idempotent (IF NOT EXISTS, a column added only when missing): running one again, e.g.
// on a database whose user_version was reset, changes nothing. A step is SQL, or a function for what
// SQL alone cannot make idempotent.
import type { Database } from 'better-sqlite3';

export type Migration = string | ((db: Database) => void);

// The finished job states as SQL (migration 14; a released step's text never changes).
const FINISHED_SQL = "'SUCCEED', 'FAILED', 'FAILED_INTERRUPTED'";

/** The distinct facet values (facet, value) of the jobs row `r` (NEW or OLD in a trigger), as job_facets holds them. */
const facetValuesOf = (r: 'NEW' | 'OLD') => `SELECT DISTINCT facet, value FROM (
      SELECT 'job-name' AS facet, ${r}.name AS value UNION ALL SELECT 'zone', ${r}.zone
      UNION ALL SELECT 'tag-key', json_extract(t.value, '$.Key') FROM json_each(${r}.tags) t
      UNION ALL SELECT 'tag-value', json_extract(t.value, '$.Value') FROM json_each(${r}.tags) t
      UNION ALL SELECT 'tag:' || json_extract(t.value, '$.Key'), json_extract(t.value, '$.Value') FROM json_each(${r}.tags) t
    ) WHERE facet IS NOT NULL AND value IS NOT NULL`;

/** Trigger statements: the finished job `r` counted in its state's counts of its facet values. */
const finishedCountUp = (r: 'NEW') => `INSERT INTO job_facet_finished_counts (account, region, facet, value, state, n)
      SELECT ${r}.account, ${r}.region, v.facet, v.value, ${r}.state, 1 FROM (${facetValuesOf(r)}) v WHERE true
      ON CONFLICT (account, region, facet, value, state) DO UPDATE SET n = n + 1;`;

/** Trigger statements: the finished job `r` no longer counted (rows that reach 0 go). */
const finishedCountDown = (r: 'OLD') => `UPDATE job_facet_finished_counts SET n = n - 1
      WHERE account = ${r}.account AND region = ${r}.region AND state = ${r}.state AND (facet, value) IN (${facetValuesOf(r)});
    DELETE FROM job_facet_finished_counts
      WHERE account = ${r}.account AND region = ${r}.region AND state = ${r}.state AND n <= 0 AND (facet, value) IN (${facetValuesOf(r)});`;

export const MIGRATIONS: Migration[] = [
  `
  CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    priority INTEGER NOT NULL,
    zone TEXT NOT NULL,
    state TEXT NOT NULL,
    state_reason TEXT NOT NULL,
    next_action TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    end_time INTEGER,
    client_token TEXT,
    tags TEXT NOT NULL,
    spec TEXT NOT NULL
  );
  CREATE UNIQUE INDEX jobs_client_token ON jobs (account, region, client_token) WHERE client_token IS NOT NULL;
  CREATE INDEX jobs_by_owner ON jobs (account, region, seq);
  CREATE INDEX jobs_by_state ON jobs (state);
  CREATE TABLE job_tags (
    job_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (job_id, key)
  ) WITHOUT ROWID;
  CREATE INDEX job_tags_by_key ON job_tags (key, value);
  CREATE TABLE tasks (
    job_id TEXT NOT NULL,
    name TEXT NOT NULL,
    ord INTEGER NOT NULL,
    spec TEXT NOT NULL,
    instance_num INTEGER NOT NULL,
    state TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    end_time INTEGER,
    counts TEXT NOT NULL,
    cursor INTEGER NOT NULL,
    wait_state TEXT NOT NULL,
    wait_reason TEXT NOT NULL,
    wait_detail TEXT NOT NULL,
    wait_end_time INTEGER,
    PRIMARY KEY (job_id, name)
  ) WITHOUT ROWID;
  CREATE TABLE instances (
    job_id TEXT NOT NULL,
    task_name TEXT NOT NULL,
    idx INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    retry_base INTEGER NOT NULL,
    exit_code INTEGER,
    state_reason TEXT NOT NULL,
    state_detail TEXT NOT NULL,
    node_id TEXT,
    create_time INTEGER NOT NULL,
    launch_time INTEGER,
    running_time INTEGER,
    end_time INTEGER,
    handle TEXT,
    PRIMARY KEY (job_id, task_name, idx)
  ) WITHOUT ROWID;
  CREATE INDEX instances_by_state ON instances (job_id, task_name, state, idx);
  CREATE TABLE attempts (
    job_id TEXT NOT NULL,
    task_name TEXT NOT NULL,
    idx INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    launch_time INTEGER NOT NULL,
    running_time INTEGER,
    end_time INTEGER,
    exit_code INTEGER,
    signal TEXT,
    reason TEXT NOT NULL,
    node_id TEXT,
    PRIMARY KEY (job_id, task_name, idx, attempt)
  ) WITHOUT ROWID;
  `,
  `
  CREATE TABLE task_templates (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    info TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    tags TEXT NOT NULL
  );
  CREATE INDEX task_templates_by_owner ON task_templates (account, region, seq);
  CREATE TABLE task_template_tags (
    template_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (template_id, key)
  ) WITHOUT ROWID;
  `,
  `
  CREATE TABLE monitor_samples (
    job_id TEXT NOT NULL,
    task_name TEXT NOT NULL,
    idx INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    cpu REAL NOT NULL,
    mem REAL NOT NULL,
    disk REAL NOT NULL,
    PRIMARY KEY (job_id, task_name, idx, ts, attempt)
  ) WITHOUT ROWID;
  `,
  `
  CREATE TABLE compute_envs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    zone TEXT NOT NULL,
    info TEXT NOT NULL,
    desired INTEGER NOT NULL,
    next_action TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    tags TEXT NOT NULL
  );
  CREATE INDEX compute_envs_by_owner ON compute_envs (account, region, seq);
  CREATE TABLE compute_env_tags (
    env_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (env_id, key)
  ) WITHOUT ROWID;
  CREATE TABLE compute_nodes (
    id TEXT PRIMARY KEY,
    env_id TEXT NOT NULL,
    instance_id TEXT NOT NULL UNIQUE,
    instance_type TEXT NOT NULL,
    state TEXT NOT NULL,
    cpu INTEGER NOT NULL,
    mem INTEGER NOT NULL,
    origin TEXT NOT NULL,
    created_time INTEGER NOT NULL,
    seq INTEGER NOT NULL
  );
  CREATE INDEX compute_nodes_by_env ON compute_nodes (env_id, seq);
  CREATE TABLE env_activities (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    env_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    type TEXT NOT NULL,
    cause TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    start_time INTEGER NOT NULL,
    end_time INTEGER,
    instance_id TEXT
  );
  CREATE INDEX env_activities_by_env ON env_activities (env_id, seq);
  `,
  // 4: job counts per owner and state, kept by triggers in the same transaction as the change, so
  // DescribeJobs' TotalCount does not count every job of the account on each call.
  `
  CREATE TABLE job_counts (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    state TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (account, region, state)
  ) WITHOUT ROWID;
  INSERT INTO job_counts (account, region, state, n) SELECT account, region, state, COUNT(*) FROM jobs GROUP BY account, region, state;
  CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO job_counts (account, region, state, n) VALUES (NEW.account, NEW.region, NEW.state, 1)
      ON CONFLICT (account, region, state) DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs BEGIN
    UPDATE job_counts SET n = n - 1 WHERE account = OLD.account AND region = OLD.region AND state = OLD.state;
  END;
  CREATE TRIGGER job_counts_state AFTER UPDATE OF state ON jobs WHEN OLD.state <> NEW.state BEGIN
    UPDATE job_counts SET n = n - 1 WHERE account = OLD.account AND region = OLD.region AND state = OLD.state;
    INSERT INTO job_counts (account, region, state, n) VALUES (NEW.account, NEW.region, NEW.state, 1)
      ON CONFLICT (account, region, state) DO UPDATE SET n = n + 1;
  END;
  `,
  // 5: the leadership lease, one row (id 1). holder '' once released; the epoch is kept so that the
  // next holder gets epoch + 1. Written in IMMEDIATE transactions only.
  `
  CREATE TABLE IF NOT EXISTS leadership (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    holder TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  `,
  // 6: commands services leave for the scheduler; AUTOINCREMENT so that an id is never reused after a
  // completed command is deleted. payload: the kind's own fields, as JSON.
  `
  CREATE TABLE IF NOT EXISTS commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  `,
  // 7: sequences kept in the database (like PostgreSQL's), taken inside the inserting transaction;
  // jobs' starts after the largest seq already used.
  `
  CREATE TABLE IF NOT EXISTS sequences (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  ) WITHOUT ROWID;
  INSERT INTO sequences (name, value) SELECT 'jobs', COALESCE(MAX(seq), 0) FROM jobs WHERE true
    ON CONFLICT (name) DO UPDATE SET value = MAX(value, excluded.value);
  `,
  // 8: CreateComputeEnv's ClientToken as a column with a unique index per owner ('' = none). Envs
  // created before kept it in info.ComputeEnv.ClientToken: the newest env of each token gets it (the
  // one the old lookup answered), so the index can be built even over duplicates.
  (db) => {
    const cols = db.prepare("SELECT name FROM pragma_table_info('compute_envs')").pluck().all() as string[];
    if (!cols.includes('client_token')) db.exec("ALTER TABLE compute_envs ADD COLUMN client_token TEXT NOT NULL DEFAULT ''");
    db.exec(`
      UPDATE compute_envs SET client_token = json_extract(info, '$.ComputeEnv.ClientToken')
      WHERE client_token = '' AND json_type(info, '$.ComputeEnv.ClientToken') = 'text'
        AND json_extract(info, '$.ComputeEnv.ClientToken') <> ''
        AND seq = (SELECT MAX(e.seq) FROM compute_envs e WHERE e.account = compute_envs.account AND e.region = compute_envs.region
          AND json_extract(e.info, '$.ComputeEnv.ClientToken') = json_extract(compute_envs.info, '$.ComputeEnv.ClientToken'))
        AND NOT EXISTS (SELECT 1 FROM compute_envs t WHERE t.account = compute_envs.account AND t.region = compute_envs.region
          AND t.client_token = json_extract(compute_envs.info, '$.ComputeEnv.ClientToken'));
      CREATE UNIQUE INDEX IF NOT EXISTS compute_envs_client_token ON compute_envs (account, region, client_token)
        WHERE client_token <> '';
    `);
  },
  // 9: since when the lease's holder leads (kept across renewals; 0 for a lease taken before), and the
  // reasons of refused commands, kept an hour for senders on other replicas (Store.commandResults).
  (db) => {
    const cols = db.prepare("SELECT name FROM pragma_table_info('leadership')").pluck().all() as string[];
    if (!cols.includes('since')) db.exec('ALTER TABLE leadership ADD COLUMN since INTEGER NOT NULL DEFAULT 0');
    db.exec(`
      CREATE TABLE IF NOT EXISTS command_refusals (
        id INTEGER PRIMARY KEY,
        reason TEXT NOT NULL,
        at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS command_refusals_by_time ON command_refusals (at);
    `);
  },
  // 10: the registry of replicas (Store.registerReplica): where each is reached, its last heartbeat
  `
  CREATE TABLE IF NOT EXISTS replicas (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    last_seen INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // 11: listing that does not grow with history (issue 14). jobs_active: the partial index of jobs that
  // are not finished, all loadActive reads. jobs_by_owner_state: an owner's jobs of one state, newest
  // first. job_facets: one row per job and value of each other DescribeJobs filter (job-name, zone,
  // tag-key, tag-value, tag:<key>), keyed (owner, filter, value, seq) so that a filter's value is one
  // range, newest first; job_facet_counts: how many jobs each range holds. Both are kept by triggers from
  // the jobs row (name, zone and the tags JSON never change after insertJob), in the transaction of
  // the change, and filled here from the jobs a database already holds. Indexes no read uses any more
  // (jobs by state alone, job tags by key) go: every index is one more page each insertJob writes.
  `
  DROP INDEX IF EXISTS jobs_by_state;
  DROP INDEX IF EXISTS job_tags_by_key;
  CREATE INDEX IF NOT EXISTS jobs_active ON jobs (seq) WHERE state IN ('SUBMITTED','PENDING','RUNNABLE','STARTING','RUNNING') OR next_action <> '';
  CREATE INDEX IF NOT EXISTS jobs_by_owner_state ON jobs (account, region, state, seq);
  CREATE TABLE IF NOT EXISTS job_facets (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (account, region, facet, value, seq)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS job_facet_counts (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (account, region, facet, value)
  ) WITHOUT ROWID;
  CREATE TRIGGER IF NOT EXISTS job_facets_counted AFTER INSERT ON job_facets BEGIN
    INSERT INTO job_facet_counts (account, region, facet, value, n) VALUES (NEW.account, NEW.region, NEW.facet, NEW.value, 1)
      ON CONFLICT (account, region, facet, value) DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER IF NOT EXISTS job_facets_uncounted AFTER DELETE ON job_facets BEGIN
    UPDATE job_facet_counts SET n = n - 1 WHERE account = OLD.account AND region = OLD.region AND facet = OLD.facet AND value = OLD.value;
    DELETE FROM job_facet_counts WHERE account = OLD.account AND region = OLD.region AND facet = OLD.facet AND value = OLD.value AND n <= 0;
  END;
  CREATE TRIGGER IF NOT EXISTS jobs_facets_insert AFTER INSERT ON jobs BEGIN
    INSERT OR IGNORE INTO job_facets (account, region, facet, value, seq)
      SELECT NEW.account, NEW.region, 'job-name', NEW.name, NEW.seq
      UNION ALL SELECT NEW.account, NEW.region, 'zone', NEW.zone, NEW.seq
      UNION ALL SELECT NEW.account, NEW.region, f.facet, f.value, NEW.seq FROM (
        SELECT 'tag-key' AS facet, json_extract(t.value, '$.Key') AS value FROM json_each(NEW.tags) t
        UNION ALL SELECT 'tag-value', json_extract(t.value, '$.Value') FROM json_each(NEW.tags) t
        UNION ALL SELECT 'tag:' || json_extract(t.value, '$.Key'), json_extract(t.value, '$.Value') FROM json_each(NEW.tags) t
      ) f WHERE f.value IS NOT NULL;
  END;
  CREATE TRIGGER IF NOT EXISTS jobs_facets_delete AFTER DELETE ON jobs BEGIN
    DELETE FROM job_facets WHERE account = OLD.account AND region = OLD.region AND seq = OLD.seq AND (facet, value) IN (
      SELECT 'job-name', OLD.name UNION ALL SELECT 'zone', OLD.zone
      UNION ALL SELECT 'tag-key', json_extract(t.value, '$.Key') FROM json_each(OLD.tags) t
      UNION ALL SELECT 'tag-value', json_extract(t.value, '$.Value') FROM json_each(OLD.tags) t
      UNION ALL SELECT 'tag:' || json_extract(t.value, '$.Key'), json_extract(t.value, '$.Value') FROM json_each(OLD.tags) t);
  END;
  INSERT OR IGNORE INTO job_facets (account, region, facet, value, seq)
    SELECT j.account, j.region, 'job-name', j.name, j.seq FROM jobs j
    UNION ALL SELECT j.account, j.region, 'zone', j.zone, j.seq FROM jobs j
    UNION ALL SELECT j.account, j.region, 'tag-key', json_extract(t.value, '$.Key'), j.seq FROM jobs j, json_each(j.tags) t
    UNION ALL SELECT j.account, j.region, 'tag-value', json_extract(t.value, '$.Value'), j.seq FROM jobs j, json_each(j.tags) t
    UNION ALL SELECT j.account, j.region, 'tag:' || json_extract(t.value, '$.Key'), json_extract(t.value, '$.Value'), j.seq FROM jobs j, json_each(j.tags) t;
  `,
  // 13: state-change events (issue 15): rows of consecutive Seqs (first … last) of one account, region
  // and job, the JSON array of their events; the durable positions of their readers (webhook topics)
  `
  CREATE TABLE IF NOT EXISTS events (
    first INTEGER PRIMARY KEY,
    last INTEGER NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    job_id TEXT,
    body TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS event_cursors (
    name TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // 14: TotalCount of a job state and a facet asked together (issue 14), without counting the matches of
  // either: job_facet_finished_counts holds, per owner, facet value and finished state, how many finished
  // jobs have that value (the active ones are few and counted from their own index). Kept by triggers as
  // a job enters or leaves a finished state, is inserted finished or deleted finished; filled here from
  // the jobs a database already holds (from scratch: running the step again changes nothing).
  `
  CREATE TABLE IF NOT EXISTS job_facet_finished_counts (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    state TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (account, region, facet, value, state)
  ) WITHOUT ROWID;
  CREATE TRIGGER IF NOT EXISTS jobs_finished_insert AFTER INSERT ON jobs WHEN NEW.state IN (${FINISHED_SQL}) BEGIN
    ${finishedCountUp('NEW')}
  END;
  CREATE TRIGGER IF NOT EXISTS jobs_finished_enter AFTER UPDATE OF state ON jobs WHEN OLD.state <> NEW.state AND NEW.state IN (${FINISHED_SQL}) BEGIN
    ${finishedCountUp('NEW')}
  END;
  CREATE TRIGGER IF NOT EXISTS jobs_finished_leave AFTER UPDATE OF state ON jobs WHEN OLD.state <> NEW.state AND OLD.state IN (${FINISHED_SQL}) BEGIN
    ${finishedCountDown('OLD')}
  END;
  CREATE TRIGGER IF NOT EXISTS jobs_finished_delete AFTER DELETE ON jobs WHEN OLD.state IN (${FINISHED_SQL}) BEGIN
    ${finishedCountDown('OLD')}
  END;
  DELETE FROM job_facet_finished_counts;
  INSERT INTO job_facet_finished_counts (account, region, facet, value, state, n)
    SELECT f.account, f.region, f.facet, f.value, j.state, COUNT(*) FROM job_facets f JOIN jobs j ON j.seq = f.seq
    WHERE j.state IN (${FINISHED_SQL}) GROUP BY f.account, f.region, f.facet, f.value, j.state;
  `,
];
