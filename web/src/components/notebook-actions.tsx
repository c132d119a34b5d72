// Start, stop, delete and open: the same buttons and confirmations on the list and the detail page.
import { useState } from 'react';
import type { Notebook } from '../../../src/sdk/browser.ts';
import { allows, leaseView } from '../lib/notebook.ts';
import { formatDuration } from '../lib/format.ts';
import { navigate } from '../lib/router.tsx';
import { isViewer, useClient } from '../lib/session.tsx';
import { useConfirm } from './confirm.tsx';
import { useToast } from './toasts.tsx';
import { Button, describeError } from './ui.tsx';

/** The instance's own URL with its token: what opens the Jupyter UI through notebookd's proxy. */
export const openUrl = (nb: Notebook) => (nb.token ? `${nb.url}${nb.url.includes('?') ? '&' : '?'}token=${encodeURIComponent(nb.token)}` : nb.url);

export function OpenButton({ nb, label = 'Open' }: { nb: Notebook; label?: string }) {
  if (nb.status !== 'RUNNING') return null;
  return (
    <a className="btn btn-primary" href={openUrl(nb)} target="_blank" rel="noopener noreferrer" aria-label={`${label} ${nb.name} in a new tab`}>
      {label}
      <svg viewBox="0 0 16 16" className="icon" aria-hidden="true">
        <path d="M6 3H3v10h10v-3M9 3h4v4M13 3L7 9" fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" strokeLinejoin="round" />
      </svg>
    </a>
  );
}

interface ActionsProps {
  nb: Notebook;
  /** Called with the instance as the server answered (DELETING after a delete). */
  onChanged(nb: Notebook): void;
  showEdit?: boolean;
  afterDelete?: string;
}

export function NotebookActions({ nb, onChanged, showEdit = false, afterDelete }: ActionsProps) {
  const { client, session } = useClient();
  const confirm = useConfirm();
  const notify = useToast();
  const [busy, setBusy] = useState<null | 'start' | 'stop' | 'delete'>(null);
  if (isViewer(session)) return null;

  async function run(kind: 'start' | 'stop' | 'delete', act: () => Promise<Notebook>, done: string) {
    setBusy(kind);
    try {
      const next = await act();
      notify(done);
      onChanged(next);
      if (kind === 'delete' && afterDelete) navigate(afterDelete);
    } catch (e) {
      const { code, message } = describeError(e);
      notify(`${code ? `${code}: ` : ''}${message}`, 'bad');
    } finally {
      setBusy(null);
    }
  }

  const lease = leaseView(nb);
  const start = async () => {
    await run('start', () => client.notebooks.start(nb.id), `${nb.name}: start requested`);
  };
  const stop = async () => {
    const ok = await confirm({
      title: `Stop ${nb.name}?`,
      body: (
        <p>
          The Jupyter server stops and running kernels end; files on its storage stay. You can start it again later
          {lease.lastDurationMs ? ` (its lease restarts with ${formatDuration(lease.lastDurationMs)})` : ''}.
        </p>
      ),
      confirmLabel: 'Stop instance',
      danger: true,
    });
    if (ok) await run('stop', () => client.notebooks.stop(nb.id), `${nb.name}: stop requested`);
  };
  const remove = async () => {
    const ok = await confirm({
      title: `Delete ${nb.name}?`,
      body: (
        <p>
          The instance <strong>and its storage ({nb.volume.capacity} GB)</strong> are deleted for good. This cannot be undone.
        </p>
      ),
      confirmLabel: 'Delete instance',
      danger: true,
    });
    if (ok) await run('delete', () => client.notebooks.delete(nb.id), `${nb.name}: deletion requested`);
  };

  return (
    <div className="actions">
      {allows(nb, 'start') && (
        <Button variant="secondary" busy={busy === 'start'} onClick={start} aria-label={`Start ${nb.name}`}>
          Start
        </Button>
      )}
      {allows(nb, 'stop') && (
        <Button variant="secondary" busy={busy === 'stop'} onClick={stop} aria-label={`Stop ${nb.name}`}>
          Stop
        </Button>
      )}
      {showEdit && allows(nb, 'update') && (
        <a
          className="btn btn-secondary"
          href={`/notebooks/${nb.id}/edit`}
          onClick={(e) => {
            if (e.button !== 0 || e.metaKey || e.ctrlKey) return;
            e.preventDefault();
            navigate(`/notebooks/${nb.id}/edit`);
          }}
        >
          Edit
        </a>
      )}
      {allows(nb, 'delete') && (
        <Button variant="ghost" className="btn-danger-text" busy={busy === 'delete'} onClick={remove} aria-label={`Delete ${nb.name}`}>
          Delete
        </Button>
      )}
    </div>
  );
}
