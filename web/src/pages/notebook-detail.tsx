// One notebook: status, lease (time left, prolong, expiry warning), how to reach it, its
// configuration, creation progress and the event timeline, live.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { Notebook, NotebookEvent } from '../../../src/sdk/browser.ts';
import { ProlongControl, TimeLeft } from '../components/lease.tsx';
import { NotebookActions, OpenButton, openUrl } from '../components/notebook-actions.tsx';
import { Banner, Card, Copyable, ErrorBox, Spinner, StatusBadge } from '../components/ui.tsx';
import { subscribeEvents } from '../lib/events.ts';
import { formatAgo, formatClock, formatDateTime, formatDuration, formatRemaining } from '../lib/format.ts';
import { activeWarning, eventLabel, eventTone, leaseView, stopReasonLabel, WARNING_LEAD_MS } from '../lib/notebook.ts';
import { Link } from '../lib/router.tsx';
import { isViewer, useClient } from '../lib/session.tsx';
import { useLoad, useNow } from '../lib/use-load.ts';

const POLL_MS = 3000;

export function NotebookDetailPage({ id }: { id: string }) {
  const { client, session } = useClient();
  const now = useNow();
  const nb = useLoad(() => client.notebooks.show(id), [client, id], { pollMs: POLL_MS });
  const { events, live } = useEvents(id, () => void nb.reload());

  useEffect(() => {
    document.title = `${nb.data?.name ?? 'Notebook'} · notebookd`;
  }, [nb.data?.name]);

  if (nb.loading && !nb.data) return <div className="page"><Spinner label="Loading the notebook" /></div>;
  if (!nb.data) {
    return (
      <div className="page">
        <Link to="/notebooks" className="back">← Notebooks</Link>
        <h1>Notebook</h1>
        <ErrorBox error={nb.error} title="Could not load this notebook" onRetry={nb.reload} />
      </div>
    );
  }
  const n = nb.data;
  const lease = leaseView(n);
  const warning = activeWarning(n, events, now);
  const nearStop = n.status === 'RUNNING' && lease.stopAt !== null && lease.stopAt - now <= WARNING_LEAD_MS;

  return (
    <div className="page">
      <Link to="/notebooks" className="back">← Notebooks</Link>
      <div className="page-head">
        <div>
          <div className="title-row">
            <h1>{n.name}</h1>
            <StatusBadge status={n.status} />
          </div>
          {n.description && <p className="muted">{n.description}</p>}
        </div>
        <div className="row-actions">
          <OpenButton nb={n} label="Open notebook" />
          <NotebookActions nb={n} onChanged={(next) => nb.setData(next)} showEdit afterDelete="/notebooks" />
        </div>
      </div>

      {nb.error !== undefined && <ErrorBox error={nb.error} title="Could not refresh" />}
      {(warning || nearStop) && lease.stopAt !== null && (
        <Banner
          tone="warn"
          title={`This instance stops in ${formatRemaining(lease.stopAt - now)}, at ${formatClock(lease.stopAt, now)}`}
          actions={!isViewer(session) && <ProlongControl nb={n} compact onRenewed={(l) => nb.setData({ ...n, lease: l })} />}
        >
          <span data-testid="lease-warning">{warning?.message ?? (lease.type === 'IDLE' ? 'It has been idle; any activity or a prolong keeps it running.' : 'Its lease runs out then; prolong it to keep working.')}</span>
        </Banner>
      )}
      {n.fail_reason && (
        <Banner tone="bad" title={n.status === 'RUNNING' ? 'The last operation failed' : `${n.status.replace('_', ' ').toLowerCase()}`}>
          {n.fail_reason}
        </Banner>
      )}
      {n.status === 'STOPPED' && n.stop_reason && (
        <Banner tone="info" title="Stopped">
          This instance stopped because {stopReasonLabel(n.stop_reason)}. Its files are kept; start it to continue.
        </Banner>
      )}

      <div className="grid">
        <Card title="Lease">
          {n.status === 'RUNNING' ? (
            <div className="lease">
              <div className="lease-left">
                <span className="muted small">Time left</span>
                <TimeLeft nb={n} now={now} />
              </div>
              <dl className="facts">
                <dt>Type</dt>
                <dd>{lease.disabled ? 'Auto-stop disabled' : lease.type === 'IDLE' ? 'IDLE: stops after a quiet period' : 'TIMING: stops at a deadline'}</dd>
                {lease.stopAt !== null && (
                  <>
                    <dt>Stops at</dt>
                    <dd data-testid="stop-at">{formatDateTime(lease.stopAt)}</dd>
                  </>
                )}
                {lease.type === 'IDLE' && n.lease.last_activity_at && (
                  <>
                    <dt>Last activity</dt>
                    <dd>
                      {formatAgo(n.lease.last_activity_at, now)}
                      {n.lease.last_activity_source ? ` (${n.lease.last_activity_source})` : ''}
                    </dd>
                  </>
                )}
              </dl>
              {!isViewer(session) && !lease.disabled && <ProlongControl nb={n} onRenewed={(l) => nb.setData({ ...n, lease: l })} />}
            </div>
          ) : (
            <p className="muted">
              The lease runs while the instance is running{lease.lastDurationMs ? `; it was last set to ${formatDuration(lease.lastDurationMs)}` : ''}.
            </p>
          )}
        </Card>

        <Card title="Access">
          <AccessFacts nb={n} />
        </Card>

        <Card title="Configuration">
          <dl className="facts">
            <dt>Flavor</dt>
            <dd className="mono">{n.flavor}</dd>
            <dt>Image</dt>
            <dd>
              {n.image.name ? `${n.image.name}:${n.image.tag}` : <span className="mono">{n.image.id}</span>}
            </dd>
            <dt>Storage</dt>
            <dd>
              {n.volume.category} {n.volume.capacity} GB at <code>{n.volume.mount_path}</code>
              {'new_capacity' in n.volume && n.volume.new_capacity !== undefined && <span className="muted"> (growing to {n.volume.new_capacity} GB)</span>}
            </dd>
            <dt>Hooks</dt>
            <dd>{hooksText(n)}</dd>
            <dt>Owner</dt>
            <dd>{n.user?.name || n.user_id}</dd>
            <dt>Created</dt>
            <dd>{formatDateTime(n.create_at)}</dd>
            <dt>Id</dt>
            <dd>
              <Copyable value={n.id} label="notebook id" />
            </dd>
          </dl>
        </Card>

        {n.action_progress.some((s) => s.status !== 'COMPLETED') && ['INIT', 'CREATING', 'STARTING', 'CREATE_FAILED', 'START_FAILED'].includes(n.status) && (
          <Card title="Progress">
            <ol className="steps">
              {n.action_progress.map((s) => (
                <li key={s.step} className={`step step-${s.status.toLowerCase()}`}>
                  <span className="step-dot" aria-hidden="true" />
                  <span>{s.description || `Step ${s.step}`}</span>
                  <span className="muted small">{s.status.toLowerCase()}</span>
                </li>
              ))}
            </ol>
          </Card>
        )}
      </div>

      <Card title="Events" actions={<span className="muted small">{live ? 'live' : 'refreshing every few seconds'}</span>} className="events-card">
        {events.length === 0 ? (
          <p className="muted">No events yet.</p>
        ) : (
          <ol className="timeline" aria-label="Events, newest first">
            {[...events].reverse().map((e) => (
              <li key={e.id} className={`timeline-item tone-${eventTone(e)}`} data-event-type={e.type}>
                <span className="timeline-dot" aria-hidden="true" />
                <div>
                  <div className="timeline-head">
                    <strong>{eventLabel(e.type)}</strong>
                    <time dateTime={new Date(e.at).toISOString()} className="muted small" title={formatDateTime(e.at)}>
                      {formatAgo(e.at, now)}
                    </time>
                    {typeof e.data.reason === 'string' && <span className="chip">reason: {stopReasonLabel(e.data.reason)}</span>}
                  </div>
                  <p className="timeline-msg">{e.message}</p>
                </div>
              </li>
            ))}
          </ol>
        )}
      </Card>
    </div>
  );
}

function hooksText(nb: Notebook): string {
  const h = nb.hooks?.container_hooks;
  const parts = [h?.pre_start && `before start: ${h.pre_start.type === 'COMMAND' ? 'a command' : h.pre_start.script}`, h?.post_start && `after start: ${h.post_start.type === 'COMMAND' ? 'a command' : h.post_start.script}`].filter(Boolean);
  return parts.length ? parts.join('; ') : 'none';
}

function AccessFacts({ nb }: { nb: Notebook }) {
  const [showToken, setShowToken] = useState(false);
  const ssh = nb.endpoints.find((e) => e.service === 'SSH');
  const web = nb.endpoints.find((e) => e.service === 'NOTEBOOK');
  return (
    <dl className="facts">
      <dt>Notebook URL</dt>
      <dd>
        {nb.status === 'RUNNING' ? (
          <a href={openUrl(nb)} target="_blank" rel="noopener noreferrer" className="mono break">
            {nb.url}
          </a>
        ) : (
          <span className="muted">available while running</span>
        )}
      </dd>
      {nb.token && (
        <>
          <dt>Token</dt>
          <dd>
            {showToken ? <Copyable value={nb.token} label="token" /> : <span className="mono muted">••••••••••••</span>}{' '}
            <button type="button" className="btn btn-ghost btn-small" onClick={() => setShowToken(!showToken)} aria-pressed={showToken}>
              {showToken ? 'Hide' : 'Show'}
            </button>
          </dd>
        </>
      )}
      <dt>Allowed addresses</dt>
      <dd>{web?.allowed_access_ips.length ? web.allowed_access_ips.join(', ') : 'any'}</dd>
      <dt>SSH</dt>
      <dd>
        {ssh ? (
          <>
            {ssh.uri ? <Copyable value={sshCommand(ssh.uri)} label="ssh command" /> : <span className="muted">enabled</span>}
            <div className="muted small">
              key pairs: {ssh.key_pair_names.join(', ') || 'none'} · from {ssh.allowed_access_ips.join(', ') || 'any address'}
            </div>
          </>
        ) : (
          <span className="muted">not enabled (edit the stopped instance to add it)</span>
        )}
      </dd>
    </dl>
  );
}

/** ssh://id@host:port → "ssh -p port id@host". */
function sshCommand(uri: string): string {
  try {
    const u = new URL(uri);
    return `ssh ${u.port ? `-p ${u.port} ` : ''}${u.username}@${u.hostname}`;
  } catch {
    return uri;
  }
}

/** The event history, then live events (streamed, or polled where the server does not stream). */
function useEvents(id: string, onNew: () => void): { events: NotebookEvent[]; live: boolean } {
  const { client, session } = useClient();
  const [events, setEvents] = useState<NotebookEvent[]>([]);
  const [live, setLive] = useState(false);
  const onNewRef = useRef(onNew);
  onNewRef.current = onNew;

  const add = useCallback((more: NotebookEvent[]) => {
    if (more.length === 0) return;
    setEvents((old) => {
      const seen = new Set(old.map((e) => e.id));
      const fresh = more.filter((e) => !seen.has(e.id));
      return fresh.length ? [...old, ...fresh].sort((a, b) => (a.id ?? 0) - (b.id ?? 0)) : old;
    });
  }, []);

  useEffect(() => {
    let stopped = false;
    let stopStream: (() => void) | undefined;
    let poll: ReturnType<typeof setInterval> | undefined;
    let lastId = 0;
    let refresh: ReturnType<typeof setTimeout> | undefined;
    const fetchAfter = async () => {
      for (;;) {
        const page = (await client.notebooks.events(id, { after: lastId, limit: 1000 })).events;
        if (stopped) return;
        add(page);
        if (page.length) lastId = page[page.length - 1]!.id ?? lastId;
        if (page.length < 1000) return;
      }
    };
    const noted = () => {
      clearTimeout(refresh);
      refresh = setTimeout(() => onNewRef.current(), 100);
    };
    void (async () => {
      try {
        await fetchAfter();
      } catch {
        /* the notebook error shows on the page */
      }
      if (stopped) return;
      stopStream = subscribeEvents({
        projectId: session.projectId,
        notebookId: id,
        token: session.token,
        afterId: lastId,
        onOpen: () => {
          setLive(true);
          // Anything written between the history and the stream opening.
          void fetchAfter().catch(() => undefined);
        },
        onEvent: (e) => {
          lastId = Math.max(lastId, e.id ?? 0);
          add([e]);
          noted();
        },
        onUnsupported: () => {
          setLive(false);
          poll = setInterval(() => {
            if (document.hidden) return;
            const before = lastId;
            void fetchAfter()
              .then(() => lastId !== before && noted())
              .catch(() => undefined);
          }, POLL_MS);
        },
      });
    })();
    return () => {
      stopped = true;
      stopStream?.();
      clearInterval(poll);
      clearTimeout(refresh);
    };
  }, [client, session, id, add]);

  return { events, live };
}
