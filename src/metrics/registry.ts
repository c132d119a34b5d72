// A small Prometheus registry: counters, gauges and histograms with labels, rendered in the text
// exposition format (version 0.0.4). No dependency; enough for notebookd's own metrics.

export type Labels = Readonly<Record<string, string>>;

interface Metric {
  readonly name: string;
  render(): Promise<string[]> | string[];
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const escapeHelp = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeValue = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function formatLabels(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (extra) pairs.push(extra);
  return pairs.length === 0 ? '' : `{${pairs.map(([k, v]) => `${k}="${escapeValue(v)}"`).join(',')}}`;
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

/** Same label set, same key, whatever the order the caller wrote them in. */
const keyOf = (labels: Labels) => formatLabels(labels);

function header(name: string, help: string, type: string): string[] {
  return [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`];
}

export class Counter implements Metric {
  private readonly series = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    private readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new Error(`counter ${this.name} can only go up (got ${by})`);
    const key = keyOf(labels);
    const s = this.series.get(key);
    if (s) s.value += by;
    else this.series.set(key, { labels, value: by });
  }

  get(labels: Labels = {}): number {
    return this.series.get(keyOf(labels))?.value ?? 0;
  }

  render(): string[] {
    const lines = header(this.name, this.help, 'counter');
    for (const s of this.series.values()) lines.push(`${this.name}${formatLabels(s.labels)} ${formatNumber(s.value)}`);
    return lines;
  }
}

export type GaugeSample = { labels?: Labels; value: number };

export class Gauge implements Metric {
  private readonly series = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    private readonly help: string,
    /** Read at scrape time instead of being set (e.g. process memory). */
    private readonly collect?: () => GaugeSample[] | Promise<GaugeSample[]>,
    /** 'counter' for a value read from elsewhere that only goes up (e.g. process CPU seconds). */
    private readonly type: 'gauge' | 'counter' = 'gauge',
  ) {}

  set(value: number, labels: Labels = {}): void {
    this.series.set(keyOf(labels), { labels, value });
  }

  add(by: number, labels: Labels = {}): void {
    const key = keyOf(labels);
    const s = this.series.get(key);
    if (s) s.value += by;
    else this.series.set(key, { labels, value: by });
  }

  get(labels: Labels = {}): number {
    return this.series.get(keyOf(labels))?.value ?? 0;
  }

  async render(): Promise<string[]> {
    const lines = header(this.name, this.help, this.type);
    const samples = this.collect ? await this.collect() : [...this.series.values()];
    for (const s of samples) lines.push(`${this.name}${formatLabels(s.labels ?? {})} ${formatNumber(s.value)}`);
    return lines;
  }
}

export class Histogram implements Metric {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  readonly buckets: readonly number[];
  constructor(
    readonly name: string,
    private readonly help: string,
    buckets: readonly number[],
  ) {
    this.buckets = [...buckets].sort((a, b) => a - b);
    if (this.buckets.length === 0) throw new Error(`histogram ${name} needs buckets`);
  }

  observe(value: number, labels: Labels = {}): void {
    const key = keyOf(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    // Per-bucket (not cumulative) counts; cumulated when rendered.
    const i = this.buckets.findIndex((le) => value <= le);
    if (i >= 0) s.counts[i]! += 1;
    s.sum += value;
    s.count += 1;
  }

  /** Observations so far (for tests and the benchmark). */
  count(labels: Labels = {}): number {
    return this.series.get(keyOf(labels))?.count ?? 0;
  }

  render(): string[] {
    const lines = header(this.name, this.help, 'histogram');
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += s.counts[i]!;
        lines.push(`${this.name}_bucket${formatLabels(s.labels, ['le', formatNumber(le)])} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${formatLabels(s.labels, ['le', '+Inf'])} ${s.count}`);
      lines.push(`${this.name}_sum${formatLabels(s.labels)} ${formatNumber(s.sum)}`);
      lines.push(`${this.name}_count${formatLabels(s.labels)} ${s.count}`);
    }
    return lines;
  }
}

export class Registry {
  private readonly metrics = new Map<string, Metric>();

  private add<M extends Metric>(metric: M): M {
    if (!NAME_RE.test(metric.name)) throw new Error(`invalid metric name ${metric.name}`);
    if (this.metrics.has(metric.name)) throw new Error(`metric ${metric.name} is registered twice`);
    this.metrics.set(metric.name, metric);
    return metric;
  }

  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }

  gauge(name: string, help: string, collect?: () => GaugeSample[] | Promise<GaugeSample[]>): Gauge {
    return this.add(new Gauge(name, help, collect));
  }

  /** A counter whose value is read at scrape time from something that counts by itself. */
  collectedCounter(name: string, help: string, collect: () => GaugeSample[] | Promise<GaugeSample[]>): Gauge {
    return this.add(new Gauge(name, help, collect, 'counter'));
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, buckets));
  }

  /** The text exposition format; serve it as text/plain; version=0.0.4. */
  async render(): Promise<string> {
    const out: string[] = [];
    for (const m of this.metrics.values()) out.push(...(await m.render()));
    return out.join('\n') + '\n';
  }
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
