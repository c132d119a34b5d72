// The Prometheus registry behind GET /metrics: the text exposition format (0.0.4) exactly, and the
// lifecycle counters notebookd derives from committed events.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createNotebookdMetrics } from '../../src/metrics/notebookd-metrics.ts';
import { Registry } from '../../src/metrics/registry.ts';

describe('metrics registry (text exposition format)', () => {
  it('renders counters with HELP, TYPE and sorted, escaped labels', async () => {
    const r = new Registry();
    const c = r.counter('demo_total', 'A demo.\nSecond line.');
    c.inc({ reason: 'idle' });
    c.inc({ reason: 'idle' }, 2);
    c.inc({ zone: 'b', reason: 'say "hi"\\ok\n' });
    assert.equal(
      await r.render(),
      [
        '# HELP demo_total A demo.\\nSecond line.',
        '# TYPE demo_total counter',
        'demo_total{reason="idle"} 3',
        'demo_total{reason="say \\"hi\\"\\\\ok\\n",zone="b"} 1',
        '',
      ].join('\n'),
    );
  });

  it('renders histograms with cumulative buckets, +Inf, sum and count', async () => {
    const r = new Registry();
    const h = r.histogram('lag_seconds', 'Lag.', [1, 0.1, 0.5]);
    for (const v of [0.05, 0.2, 0.3, 2]) h.observe(v);
    assert.equal(
      await r.render(),
      [
        '# HELP lag_seconds Lag.',
        '# TYPE lag_seconds histogram',
        'lag_seconds_bucket{le="0.1"} 1',
        'lag_seconds_bucket{le="0.5"} 3',
        'lag_seconds_bucket{le="1"} 3',
        'lag_seconds_bucket{le="+Inf"} 4',
        'lag_seconds_sum 2.55',
        'lag_seconds_count 4',
        '',
      ].join('\n'),
    );
  });

  it('reads collected gauges and counters at scrape time', async () => {
    const r = new Registry();
    let n = 1;
    r.gauge('things', 'Things now.', () => [{ value: n }, { labels: { kind: 'x' }, value: n * 2 }]);
    r.collectedCounter('ticks_total', 'Ticks.', () => [{ value: n * 10 }]);
    n = 3;
    assert.match(await r.render(), /# TYPE things gauge\nthings 3\nthings\{kind="x"\} 6\n# HELP ticks_total Ticks\.\n# TYPE ticks_total counter\nticks_total 30\n/);
  });

  it('refuses a second metric of the same name, bad names and counters going down', () => {
    const r = new Registry();
    r.counter('a_total', 'A.');
    assert.throws(() => r.counter('a_total', 'A again.'), /registered twice/);
    assert.throws(() => r.gauge('bad-name', 'Bad.'), /invalid metric name/);
    assert.throws(() => r.counter('b_total', 'B.').inc({}, -1), /only go up/);
  });
});

describe('notebookd metrics', () => {
  it('counts stops by reason and events by type from committed events', async () => {
    const m = createNotebookdMetrics();
    const at = 0;
    m.observeEvents([
      { notebookId: 'a', at, type: 'notebook.stopping', message: '', data: { reason: 'user' } },
      { notebookId: 'b', at, type: 'notebook.stopping', message: '', data: { reason: 'idle' } },
      { notebookId: 'c', at, type: 'notebook.lost', message: '', data: { reason: 'runtime_lost' } },
      { notebookId: 'd', at, type: 'notebook.lost', message: '', data: { status: 'ERROR', reason: 'error' } },
      { notebookId: 'a', at, type: 'notebook.stopped', message: '', data: { reason: 'user' } }, // the same stop, finished: not counted twice
      { notebookId: 'e', at, type: 'notebook.running', message: '' },
    ]);
    for (const reason of ['user', 'idle', 'runtime_lost', 'error']) assert.equal(m.stops.get({ reason }), 1, reason);
    assert.equal(m.stops.get({ reason: 'lease_expired' }), 0);
    assert.equal(m.events.get({ type: 'notebook.stopping' }), 2);
    assert.equal(m.events.get({ type: 'notebook.running' }), 1);
    const text = await m.registry.render();
    assert.match(text, /notebookd_notebook_stops_total\{reason="runtime_lost"\} 1/);
    assert.match(text, /# TYPE notebookd_lease_expiry_lag_seconds histogram/);
    assert.match(text, /process_resident_memory_bytes \d+/);
  });
});
