// The Metrics registry (src/metrics/metrics.ts) without a server: API requests bounded to known actions,
// the scheduler's gauges on a leader and a follower, slots only where the executor declares them, and
// event deliveries.
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/metrics/metrics.ts';
import type { SchedulerGauges } from '../../src/scheduler/ports.ts';

function lines(body: string, name: string): string[] {
  return body.split('\n').filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
}

const LEADER: SchedulerGauges = {
  instances: { RUNNING: 3, RUNNABLE: 2 }, jobs: { RUNNING: 1 }, queueDepth: 2,
  slots: { total: 4, used: 3 }, nodes: { byState: { RUNNING: 2, DELETING: 1 }, busy: 1 },
};

function metrics(g: () => SchedulerGauges | undefined, leading = () => g() !== undefined): Metrics {
  return new Metrics({ version: '9.9.9', actions: ['DescribeJob'], gauges: g, leading });
}

describe('Metrics', () => {
  it('counts requests by known action and code, anything else as unknown', async () => {
    const m = metrics(() => undefined);
    m.observe('DescribeJob', 'OK', 0.002);
    m.observe('DescribeJob', 'InvalidParameter.JobIdMalformed', 0.001);
    m.observe('NoSuchAction', 'InvalidAction', 0.001);
    m.observe('', 'AuthFailure.SignatureFailure', 0.001);
    const { contentType, body } = await m.scrape();
    expect(contentType).toMatch(/^text\/plain/);
    expect(lines(body, 'openbatch_api_requests_total').sort()).toEqual([
      'openbatch_api_requests_total{action="DescribeJob",code="InvalidParameter.JobIdMalformed"} 1',
      'openbatch_api_requests_total{action="DescribeJob",code="OK"} 1',
      'openbatch_api_requests_total{action="unknown",code="AuthFailure.SignatureFailure"} 1',
      'openbatch_api_requests_total{action="unknown",code="InvalidAction"} 1',
    ]);
    expect(lines(body, 'openbatch_api_request_duration_seconds_count').sort()).toEqual([
      'openbatch_api_request_duration_seconds_count{action="DescribeJob"} 2',
      'openbatch_api_request_duration_seconds_count{action="unknown"} 2',
    ]);
    expect(body).toContain('openbatch_build_info{version="9.9.9"} 1');
  });

  it("exports the leader's gauges, every instance state included", async () => {
    const { body } = await metrics(() => LEADER).scrape();
    const inst = lines(body, 'openbatch_instances');
    expect(inst).toHaveLength(8);
    expect(inst).toContain('openbatch_instances{state="RUNNING"} 3');
    expect(inst).toContain('openbatch_instances{state="SUCCEED"} 0');
    expect(lines(body, 'openbatch_jobs')).toHaveLength(5);
    expect(lines(body, 'openbatch_executor_queue_depth')).toEqual(['openbatch_executor_queue_depth 2']);
    expect(lines(body, 'openbatch_slots').sort()).toEqual(['openbatch_slots{kind="total"} 4', 'openbatch_slots{kind="used"} 3']);
    expect(lines(body, 'openbatch_compute_nodes').sort()).toEqual(['openbatch_compute_nodes{state="DELETING"} 1', 'openbatch_compute_nodes{state="RUNNING"} 2']);
    expect(lines(body, 'openbatch_compute_nodes_busy')).toEqual(['openbatch_compute_nodes_busy 1']);
    expect(lines(body, 'openbatch_leader')).toEqual(['openbatch_leader 1']);
  });

  it('has no samples of the labelled gauges on a replica that does not lead, even after it led', async () => {
    let leading = true;
    const m = metrics(() => (leading ? LEADER : undefined));
    expect(lines((await m.scrape()).body, 'openbatch_instances')).toHaveLength(8);
    leading = false;
    const { body } = await m.scrape();
    for (const name of ['openbatch_instances', 'openbatch_jobs', 'openbatch_slots', 'openbatch_compute_nodes']) expect(lines(body, name)).toEqual([]);
    expect(lines(body, 'openbatch_executor_queue_depth')).toEqual(['openbatch_executor_queue_depth 0']);
    expect(lines(body, 'openbatch_leader')).toEqual(['openbatch_leader 0']);
  });

  it('has no slots for an executor whose capacity is a queue', async () => {
    const { body } = await metrics(() => ({ ...LEADER, slots: undefined })).scrape();
    expect(lines(body, 'openbatch_slots')).toEqual([]);
  });

  it('counts attempts, ticks, store writes and event deliveries', async () => {
    const m = metrics(() => undefined);
    m.attemptStarted();
    m.attemptStarted();
    m.attemptEnded('succeed');
    m.attemptEnded('retry');
    m.tick(0.001);
    m.storeWrite(0.002, true);
    m.storeWrite(0.003, false);
    m.eventDelivery('hooks', true);
    m.eventDelivery('hooks', false);
    m.eventDelivery('hooks', false);
    const { body } = await m.scrape();
    expect(lines(body, 'openbatch_attempts_started_total')).toEqual(['openbatch_attempts_started_total 2']);
    expect(lines(body, 'openbatch_attempts_ended_total').sort()).toEqual([
      'openbatch_attempts_ended_total{outcome="fail"} 0',
      'openbatch_attempts_ended_total{outcome="requeue"} 0',
      'openbatch_attempts_ended_total{outcome="retry"} 1',
      'openbatch_attempts_ended_total{outcome="succeed"} 1',
    ]);
    expect(lines(body, 'openbatch_scheduler_tick_duration_seconds_count')).toEqual(['openbatch_scheduler_tick_duration_seconds_count 1']);
    expect(lines(body, 'openbatch_store_write_duration_seconds_count').sort()).toEqual([
      'openbatch_store_write_duration_seconds_count{outcome="failed"} 1',
      'openbatch_store_write_duration_seconds_count{outcome="ok"} 1',
    ]);
    expect(lines(body, 'openbatch_event_deliveries_total').sort()).toEqual([
      'openbatch_event_deliveries_total{topic="hooks",outcome="delivered"} 1',
      'openbatch_event_deliveries_total{topic="hooks",outcome="failed"} 2',
    ]);
  });

  it('keeps its metrics out of the global registry', async () => {
    const { register } = await import('prom-client');
    metrics(() => undefined);
    expect(register.getSingleMetric('openbatch_api_requests_total')).toBeUndefined();
  });
});
