// Activity attributed to its source. The proxy, the SSH gateway and the samplers report it;
// the lease engine batches it and moves IDLE stop times (DESIGN §3).

export type ActivitySource = 'http' | 'websocket' | 'ssh' | 'kernel' | 'terminal' | 'cpu';

export interface ActivitySink {
  /**
   * Notes that `notebookId` was used at `at` (epoch ms; default now). Cheap and synchronous:
   * implementations batch, so callers may call it on every request or message.
   */
  record(notebookId: string, source: ActivitySource, at?: number): void;
}

/** For wiring before a real sink exists, and for tests that do not care. */
export const ignoreActivity: ActivitySink = { record: () => {} };
