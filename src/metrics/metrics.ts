// Prometheus metrics (prom-client) of one server process, in a registry of its own (never the global
// one): the API's requests, the scheduler's ticks, store writes and attempts (through the
// SchedulerMetrics port, so the scheduler does not import this), event deliveries, and gauges read
// from the leading scheduler when /metrics is scraped. Every metric is described in docs/metrics.md.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ACTIVE_STATES, STATES } from '../domain/states.ts';
import type { AttemptEndOutcome, SchedulerGauges, SchedulerMetrics } from '../scheduler/ports.ts';

export interface MetricsOptions {
  /** The server's version (openbatch_build_info{version}). */
  version: string;
  /** The action names the API serves: any other action is counted as `unknown` (bounded labels). */
  actions: readonly string[];
  /** The leading scheduler's figures; undefined while this replica does not lead. */
  gauges: () => SchedulerGauges | undefined;
  /** Does this replica lead (run the scheduler) now? */
  leading: () => boolean;
}

const PREFIX = 'openbatch_';
/** API requests: 1 ms to 10 s. */
const API_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Ticks and store writes: 0.1 ms to 10 s. */
const SCHED_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Metrics implements SchedulerMetrics {
  readonly registry = new Registry();
  private readonly known: ReadonlySet<string>;
  private readonly requests: Counter<'action' | 'code'>;
  private readonly requestDuration: Histogram<'action'>;
  private readonly tickDuration: Histogram;
  private readonly storeWriteDuration: Histogram<'outcome'>;
  private readonly attemptsStarted: Counter;
  private readonly attemptsEnded: Counter<'outcome'>;
  private readonly deliveries: Counter<'topic' | 'outcome'>;
  private readonly gauges: () => SchedulerGauges | undefined;
  /** The leading scheduler's figures as the last scrape began (undefined: this replica did not lead). */
  private snapshot: SchedulerGauges | undefined;

  constructor(o: MetricsOptions) {
    const registers = [this.registry];
    this.known = new Set(o.actions);
    this.gauges = o.gauges;
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    new Gauge({ name: `${PREFIX}build_info`, help: 'Always 1; the version label says which OpenBatch runs.', labelNames: ['version'], registers })
      .set({ version: o.version }, 1);
    this.requests = new Counter({
      name: `${PREFIX}api_requests_total`, help: 'API requests answered, by action and code (the Tencent error code, or OK).',
      labelNames: ['action', 'code'], registers,
    });
    this.requestDuration = new Histogram({
      name: `${PREFIX}api_request_duration_seconds`, help: 'Time from a request reaching the pipeline to its answer, by action.',
      labelNames: ['action'], buckets: API_BUCKETS, registers,
    });
    this.tickDuration = new Histogram({
      name: `${PREFIX}scheduler_tick_duration_seconds`, help: 'Duration of scheduler ticks (admit, dispatch, write the batch).',
      buckets: SCHED_BUCKETS, registers,
    });
    this.storeWriteDuration = new Histogram({
      name: `${PREFIX}store_write_duration_seconds`, help: "Duration of the scheduler's write-behind batches, by outcome (ok, failed).",
      labelNames: ['outcome'], buckets: SCHED_BUCKETS, registers,
    });
    this.attemptsStarted = new Counter({ name: `${PREFIX}attempts_started_total`, help: 'Attempts started by this replica\'s scheduler.', registers });
    this.attemptsEnded = new Counter({
      name: `${PREFIX}attempts_ended_total`, help: 'Attempt ends decided by this replica\'s scheduler, by outcome (succeed, retry, requeue, fail).',
      labelNames: ['outcome'], registers,
    });
    for (const outcome of ['succeed', 'retry', 'requeue', 'fail'] as const) this.attemptsEnded.inc({ outcome }, 0);
    this.deliveries = new Counter({
      name: `${PREFIX}event_deliveries_total`, help: 'Event deliveries, by topic and outcome (delivered, failed).',
      labelNames: ['topic', 'outcome'], registers,
    });
    // gauges of the leading scheduler's memory, read once per scrape (scrape() takes the snapshot);
    // a replica that does not lead has no snapshot: no samples for the labelled ones, 0 for the others
    const now = () => this.snapshot;
    new Gauge({
      name: `${PREFIX}instances`, help: 'Instances of active jobs by state (the leader\'s view; no samples on a replica that does not lead).',
      labelNames: ['state'], registers,
      collect() {
        this.reset();
        const g = now();
        if (g) for (const state of STATES) this.set({ state }, g.instances[state] ?? 0);
      },
    });
    new Gauge({
      name: `${PREFIX}jobs`, help: 'Active jobs by state (the leader\'s view).', labelNames: ['state'], registers,
      collect() {
        this.reset();
        const g = now();
        if (g) for (const state of ACTIVE_STATES) this.set({ state }, g.jobs[state] ?? 0);
      },
    });
    new Gauge({
      name: `${PREFIX}executor_queue_depth`, help: 'Ready (RUNNABLE) instances waiting for capacity in the leader\'s ready queue.', registers,
      collect() {
        this.set(now()?.queueDepth ?? 0);
      },
    });
    new Gauge({
      name: `${PREFIX}slots`, help: 'Local slots of anonymous compute environments: total, and used by starting or running attempts (the leader\'s view; none for a queue executor).',
      labelNames: ['kind'], registers,
      collect() {
        this.reset();
        const s = now()?.slots;
        if (s) {
          this.set({ kind: 'total' }, s.total);
          this.set({ kind: 'used' }, s.used);
        }
      },
    });
    new Gauge({
      name: `${PREFIX}compute_nodes`, help: 'Compute nodes of named compute environments by node state (the leader\'s view).',
      labelNames: ['state'], registers,
      collect() {
        this.reset();
        const g = now();
        if (g) for (const [state, n] of Object.entries(g.nodes.byState)) this.set({ state }, n);
      },
    });
    new Gauge({
      name: `${PREFIX}compute_nodes_busy`, help: 'Compute nodes that run an instance now (the leader\'s view).', registers,
      collect() {
        this.set(now()?.nodes.busy ?? 0);
      },
    });
    new Gauge({
      name: `${PREFIX}leader`, help: '1 while this replica leads (runs the scheduler), else 0.', registers,
      collect() {
        this.set(o.leading() ? 1 : 0);
      },
    });
  }

  /** One API request answered (the pipeline's observe). */
  observe(action: string, code: string, seconds: number): void {
    const a = this.known.has(action) ? action : 'unknown';
    this.requests.inc({ action: a, code });
    this.requestDuration.observe({ action: a }, seconds);
  }

  tick(seconds: number): void {
    this.tickDuration.observe(seconds);
  }

  storeWrite(seconds: number, ok: boolean): void {
    this.storeWriteDuration.observe({ outcome: ok ? 'ok' : 'failed' }, seconds);
  }

  attemptStarted(): void {
    this.attemptsStarted.inc();
  }

  attemptEnded(outcome: AttemptEndOutcome): void {
    this.attemptsEnded.inc({ outcome });
  }

  /** An event was delivered to its subscriber (ok) or its delivery failed, for the topic. For the event
   *  delivery code to call: one call per delivery attempt. */
  eventDelivery(topic: string, ok: boolean): void {
    this.deliveries.inc({ topic, outcome: ok ? 'delivered' : 'failed' });
  }

  /** The text exposition of every metric (GET /metrics). */
  async scrape(): Promise<{ contentType: string; body: string }> {
    // replaced, never cleared: a scrape that overlaps another still finds a snapshot of this moment
    this.snapshot = this.gauges();
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
