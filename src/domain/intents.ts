// Pure builders for the writes that more than one actor makes (the API and the lease executor
// both stop instances). Each returns the next record and the events that explain it.
import type { Notebook, NotebookEvent, StopReason } from './notebook.ts';

export interface Transition {
  next: Notebook;
  events: NotebookEvent[];
}

export const notebookEvent = (
  notebookId: string,
  at: number,
  type: string,
  message: string,
  data?: Record<string, unknown>,
): NotebookEvent => ({ notebookId, at, type, message, ...(data && { data }) });

/** Asks for a stop; the reconciler carries it out. The reason is kept on the instance and in its events. */
export function requestStop(nb: Notebook, now: number, reason: StopReason, message: string): Transition {
  return {
    next: { ...nb, desired: 'stopped', status: 'STOPPING', operation: 'stop', stopReason: reason, statusChangedAt: now, updateAt: now },
    events: [notebookEvent(nb.id, now, 'notebook.stopping', message, { reason, from: nb.status })],
  };
}
