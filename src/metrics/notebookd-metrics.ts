// notebookd's metrics in one place: names, help texts, buckets, and how committed events turn
// into lifecycle counters. main.ts creates one set per process and hands parts of it around.
import type { NotebookEvent } from '../domain/notebook.ts';
import { Registry, type Counter, type Gauge, type Histogram } from './registry.ts';

/** Expiry lag is ideally milliseconds; the upper buckets catch a stalled or restarted executor. */
const LAG_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export interface NotebookdMetrics {
  registry: Registry;
  /** now - stop time, when the executor asked an expired instance to stop. */
  expiryLag: Histogram;
  leaseWarnings: Counter;
  executorPasses: Counter;
  /** Every stop of a running instance, by reason (user, admin, lease_expired, idle, runtime_lost, error). */
  stops: Counter;
  /** Every committed instance event, by type: the lifecycle counters. */
  events: Counter;
  activityReports: Counter;
  activityWrites: Counter;
  activitySamples: Counter;
  webhookDeliveries: Counter;
  eventStreams: Gauge;
  /** Feeds committed events into the lifecycle counters. */
  observeEvents(events: readonly NotebookEvent[]): void;
}

/** The events that mean "a running instance stops", with the reason in data.reason. */
const STOP_EVENTS = new Set(['notebook.stopping', 'notebook.lost']);

export function createNotebookdMetrics(): NotebookdMetrics {
  const registry = new Registry();
  const m: NotebookdMetrics = {
    registry,
    expiryLag: registry.histogram('notebookd_lease_expiry_lag_seconds', 'Time from a lease stop time to the stop request.', LAG_BUCKETS_S),
    leaseWarnings: registry.counter('notebookd_lease_warnings_total', 'lease.expiring warnings issued.'),
    executorPasses: registry.counter('notebookd_lease_executor_passes_total', 'Lease executor wake-ups that looked for due instances.'),
    stops: registry.counter('notebookd_notebook_stops_total', 'Stops of running instances by reason.'),
    events: registry.counter('notebookd_notebook_events_total', 'Instance events recorded, by type (lifecycle transitions).'),
    activityReports: registry.counter('notebookd_activity_reports_total', 'Activity reports received, by source.'),
    activityWrites: registry.counter('notebookd_activity_writes_total', 'Batched activity writes to the store.'),
    activitySamples: registry.counter('notebookd_activity_samples_total', 'Instance activity samples taken, by sampler and result.'),
    webhookDeliveries: registry.counter('notebookd_webhook_deliveries_total', 'Webhook delivery attempts, by result (delivered, retry, failed).'),
    eventStreams: registry.gauge('notebookd_event_streams', 'Open Server-Sent Event streams.'),
    observeEvents(events) {
      for (const e of events) {
        m.events.inc({ type: e.type });
        const reason = e.data?.reason;
        if (STOP_EVENTS.has(e.type) && typeof reason === 'string') m.stops.inc({ reason });
      }
    },
  };
  registry.gauge('process_resident_memory_bytes', 'Resident memory of the notebookd process.', () => [{ value: process.memoryUsage.rss() }]);
  registry.collectedCounter('process_cpu_seconds_total', 'CPU time of the notebookd process (user + system).', () => {
    const { user, system } = process.cpuUsage();
    return [{ value: (user + system) / 1e6 }];
  });
  return m;
}
