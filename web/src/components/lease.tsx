// The lease, where users see it: the time left before an instance stops, and a one-click prolong
// showing the durations the server allows.
import { useId, useState } from 'react';
import { NotebookdError, type Lease, type Notebook } from '../../../src/sdk/browser.ts';
import { formatClock, formatDuration, formatRemaining } from '../lib/format.ts';
import { durationChoices, leaseView, rangeFor, rangeFromError, rangeText, WARNING_LEAD_MS, type LeaseRange } from '../lib/notebook.ts';
import { useClient } from '../lib/session.tsx';
import { useToast } from './toasts.tsx';
import { Button, describeError } from './ui.tsx';

export function TimeLeft({ nb, now }: { nb: Notebook; now: number }) {
  if (nb.status !== 'RUNNING') return <span className="muted">—</span>;
  const lease = leaseView(nb);
  if (lease.disabled || lease.stopAt === null) return <span className="time-left">No auto-stop</span>;
  const left = lease.stopAt - now;
  const soon = left <= WARNING_LEAD_MS;
  return (
    <span className={`time-left${soon ? ' time-left-soon' : ''}`} data-testid="time-left" data-stop-at={lease.stopAt}>
      <strong>{formatRemaining(left)}</strong>
      <span className="muted small">
        {lease.type === 'IDLE' ? 'if idle, stops' : 'stops'} at {formatClock(lease.stopAt, now)}
      </span>
    </span>
  );
}

/** Closest offered duration to the one the lease was last set to. */
function defaultChoice(choices: number[], last: number | null): number {
  if (last === null) return choices[0]!;
  return choices.reduce((best, d) => (Math.abs(d - last) < Math.abs(best - last) ? d : best), choices[0]!);
}

export function ProlongControl({ nb, onRenewed, compact = false }: { nb: Notebook; onRenewed(lease: Lease): void; compact?: boolean }) {
  const { client } = useClient();
  const notify = useToast();
  const id = useId();
  const [range, setRange] = useState<LeaseRange>(() => rangeFor(nb.flavor));
  const view = leaseView(nb);
  const choices = durationChoices(range);
  const [chosen, setChosen] = useState<number>(() => defaultChoice(choices, view.lastDurationMs));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const duration = choices.includes(chosen) ? chosen : defaultChoice(choices, chosen);
  const idle = view.type === 'IDLE';
  const running = nb.status === 'RUNNING';

  async function prolong() {
    setBusy(true);
    setError(null);
    try {
      const lease = await client.notebooks.renewLease(nb.id, { duration, type: view.type });
      onRenewed(lease);
      const stopAt = lease.stop_at;
      notify(stopAt ? `${nb.name}: lease renewed, stops at ${formatClock(stopAt, Date.now())}` : `${nb.name}: lease renewed`);
    } catch (e) {
      if (e instanceof NotebookdError && e.errorCode === 'ModelArts.6349') {
        const learned = rangeFromError(nb.flavor, e.errorMsg);
        if (learned) setRange(learned);
      }
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  if (!running) return null;
  const err = error ? describeError(error) : null;
  return (
    <div className={compact ? 'prolong prolong-compact' : 'prolong'} data-testid="prolong">
      <label htmlFor={`${id}-d`} className={compact ? 'sr-only' : 'label'}>
        {idle ? 'Idle timeout' : 'Keep running for'}
      </label>
      <div className="prolong-row">
        <select id={`${id}-d`} value={duration} onChange={(e) => setChosen(Number(e.target.value))} aria-describedby={`${id}-range`} disabled={busy}>
          {choices.map((d) => (
            <option key={d} value={d}>
              {formatDuration(d)}
            </option>
          ))}
        </select>
        <Button variant={compact ? 'secondary' : 'primary'} busy={busy} onClick={prolong} aria-label={compact ? `Prolong ${nb.name} by ${formatDuration(duration)}` : undefined}>
          Prolong
        </Button>
      </div>
      <span id={`${id}-range`} className="muted small">
        Allowed {rangeText(range)}
        {compact ? '' : idle ? ' of inactivity before it stops' : ', counted from now'}
      </span>
      {err && (
        <span className="field-error" role="alert">
          {err.code && <code>{err.code}</code>} {err.message}
        </span>
      )}
    </div>
  );
}
