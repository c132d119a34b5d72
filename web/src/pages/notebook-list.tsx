// The notebook list: live status (polled, and streamed for instances that are changing), the time
// left of each running instance with a one-click prolong, and start/stop/delete/open.
import { useEffect, useId, useMemo, useState } from 'react';
import type { Notebook, Page } from '../../../src/sdk/browser.ts';
import { ProlongControl, TimeLeft } from '../components/lease.tsx';
import { NotebookActions, OpenButton } from '../components/notebook-actions.tsx';
import { Banner, Button, EmptyState, ErrorBox, Spinner, StatusBadge } from '../components/ui.tsx';
import { subscribeEvents } from '../lib/events.ts';
import { formatAgo, formatRemaining } from '../lib/format.ts';
import { leaseView, stopReasonLabel, transitional, WARNING_LEAD_MS } from '../lib/notebook.ts';
import { Link } from '../lib/router.tsx';
import { isProjectAdmin, isViewer, useClient } from '../lib/session.tsx';
import { useLoad, useNow } from '../lib/use-load.ts';

const POLL_MS = 3000;
const PAGE_SIZE = 50;
/** Browsers allow six connections per origin; streams must leave room for the API calls. */
const MAX_STREAMS = 2;

export function NotebookListPage() {
  const { client, session } = useClient();
  const id = useId();
  const seesProject = isProjectAdmin(session) || isViewer(session);
  const [scope, setScope] = useState<'mine' | 'project'>(isViewer(session) ? 'project' : 'mine');
  const [name, setName] = useState('');
  const [offset, setOffset] = useState(0);
  const now = useNow();

  useEffect(() => {
    document.title = 'Notebooks · notebookd';
  }, []);

  const list = useLoad<Page<Notebook>>(
    () => (scope === 'project' ? client.notebooks.listAll : client.notebooks.list)({ limit: PAGE_SIZE, offset, ...(name && { name }) }),
    [client, scope, name, offset],
    { pollMs: POLL_MS },
  );
  const notebooks = list.data?.data ?? [];

  // Stream the events of instances that are changing right now, so their status moves at once.
  const streamed = useMemo(
    () =>
      notebooks
        .filter((nb) => transitional(nb))
        .slice(0, MAX_STREAMS)
        .map((nb) => nb.id)
        .join(','),
    [notebooks],
  );
  useEffect(() => {
    if (!streamed) return;
    // A burst of events (a replayed history, the steps of a start) becomes one refresh.
    let pending: ReturnType<typeof setTimeout> | undefined;
    const refresh = () => {
      clearTimeout(pending);
      pending = setTimeout(() => void list.reload(), 150);
    };
    const stops = streamed.split(',').map((nbId) => subscribeEvents({ projectId: session.projectId, notebookId: nbId, token: session.token, onEvent: refresh }));
    return () => {
      clearTimeout(pending);
      stops.forEach((s) => s());
    };
  }, [streamed, session]);

  const replace = (next: Notebook, old: Notebook) => {
    list.setData((page) => {
      const p = page ?? { current: 0, data: [], pages: 0, size: PAGE_SIZE, total: 0 };
      return { ...p, data: p.data.map((n) => (n.id === old.id ? next : n)) };
    });
    void list.reload();
  };

  const expiring = notebooks.filter((nb) => {
    const stopAt = nb.status === 'RUNNING' ? leaseView(nb).stopAt : null;
    return stopAt !== null && stopAt - now <= WARNING_LEAD_MS;
  });

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Notebooks</h1>
          <p className="muted">Jupyter instances{scope === 'project' ? ' of the whole project' : ' you own'}; they stop by themselves when their lease runs out.</p>
        </div>
        {!isViewer(session) && (
          <Link to="/notebooks/new" className="btn btn-primary">
            Create notebook
          </Link>
        )}
      </div>

      {expiring.map((nb) => (
        <Banner
          key={nb.id}
          tone="warn"
          title={`${nb.name} stops in ${formatRemaining((leaseView(nb).stopAt ?? now) - now)}`}
          actions={!isViewer(session) && <ProlongControl nb={nb} compact onRenewed={(lease) => replace({ ...nb, lease }, nb)} />}
        >
          {leaseView(nb).type === 'IDLE' ? 'It has been idle; any activity or a prolong keeps it running.' : 'Its lease runs out then. Prolong it to keep it running.'}
        </Banner>
      ))}

      <div className="toolbar">
        <form
          role="search"
          className="search"
          onSubmit={(e) => {
            e.preventDefault();
            setOffset(0);
            setName(String(new FormData(e.currentTarget).get('name') ?? '').trim());
          }}
        >
          <label htmlFor={`${id}-name`} className="sr-only">
            Filter by name
          </label>
          <input id={`${id}-name`} name="name" type="search" placeholder="Filter by name" defaultValue={name} />
          <Button type="submit">Filter</Button>
        </form>
        {seesProject && (
          <div className="segmented" role="group" aria-label="Whose notebooks">
            <button type="button" aria-pressed={scope === 'mine'} onClick={() => (setScope('mine'), setOffset(0))}>
              Mine
            </button>
            <button type="button" aria-pressed={scope === 'project'} onClick={() => (setScope('project'), setOffset(0))}>
              Whole project
            </button>
          </div>
        )}
      </div>

      {list.error !== undefined && (list.data ? <ErrorBox error={list.error} title="Could not refresh the list" /> : <ErrorBox error={list.error} title="Could not load the notebooks" onRetry={list.reload} />)}
      {list.loading && !list.data && <Spinner label="Loading notebooks" />}
      {list.data && notebooks.length === 0 && (
        <EmptyState title={name ? `No notebook named like “${name}”` : 'No notebooks yet'} action={!isViewer(session) && !name && <Link to="/notebooks/new" className="btn btn-primary">Create your first notebook</Link>}>
          {name ? 'Try another name, or clear the filter.' : 'A notebook is a Jupyter server with its own storage. Create one, open it in the browser, and it stops by itself when its lease runs out.'}
        </EmptyState>
      )}
      {notebooks.length > 0 && (
        <div className="table-wrap">
          <table className="table" aria-label="Notebooks">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Flavor</th>
                <th scope="col">Time left</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {notebooks.map((nb) => (
                <tr key={nb.id} data-notebook={nb.name} data-status={nb.status}>
                  <td>
                    <Link to={`/notebooks/${nb.id}`} className="row-title">
                      {nb.name}
                    </Link>
                    <div className="muted small">
                      {scope === 'project' && nb.user?.name ? `${nb.user.name} · ` : ''}
                      {nb.image.name || 'image'} · {nb.volume.capacity} GB · created {formatAgo(nb.create_at, now)}
                    </div>
                  </td>
                  <td>
                    <StatusBadge status={nb.status} />
                    {nb.status === 'STOPPED' && nb.stop_reason && <div className="muted small">{stopReasonLabel(nb.stop_reason)}</div>}
                    {nb.fail_reason && <div className="small text-bad">{nb.fail_reason}</div>}
                  </td>
                  <td className="mono small">{nb.flavor}</td>
                  <td>
                    <TimeLeft nb={nb} now={now} />
                    {!isViewer(session) && <ProlongControl nb={nb} compact onRenewed={(lease) => replace({ ...nb, lease }, nb)} />}
                  </td>
                  <td>
                    <div className="row-actions">
                      <OpenButton nb={nb} />
                      <NotebookActions nb={nb} onChanged={(next) => replace(next, nb)} />
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.data && list.data.pages > 1 && (
        <nav className="pager" aria-label="Pages">
          <Button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE_SIZE))}>
            Previous
          </Button>
          <span className="muted">
            Page {list.data.current + 1} of {list.data.pages} · {list.data.total} notebooks
          </span>
          <Button disabled={list.data.current + 1 >= list.data.pages} onClick={() => setOffset(offset + PAGE_SIZE)}>
            Next
          </Button>
        </nav>
      )}
    </div>
  );
}
