// The console shell: the sign-in gate, the top bar, and the page for the current path.
import { useEffect, useRef, type ReactNode } from 'react';
import { ConfirmProvider } from './components/confirm.tsx';
import { ToastProvider } from './components/toasts.tsx';
import { Link, match, navigate, useLocation } from './lib/router.tsx';
import { isProjectAdmin, SessionProvider, useSession } from './lib/session.tsx';
import { AdminPage } from './pages/admin.tsx';
import { CreateNotebookPage } from './pages/create-notebook.tsx';
import { EditNotebookPage } from './pages/edit-notebook.tsx';
import { KeyPairsPage } from './pages/keypairs.tsx';
import { NotebookDetailPage } from './pages/notebook-detail.tsx';
import { NotebookListPage } from './pages/notebook-list.tsx';
import { SignInPage } from './pages/sign-in.tsx';

export function App() {
  return (
    <SessionProvider>
      <ToastProvider>
        <ConfirmProvider>
          <Shell />
        </ConfirmProvider>
      </ToastProvider>
    </SessionProvider>
  );
}

function Shell() {
  const { session } = useSession();
  const { path, query } = useLocation();

  useEffect(() => {
    if (!session && path !== '/sign-in') navigate(`/sign-in${path !== '/' && path !== '/notebooks' ? `?next=${encodeURIComponent(path)}` : ''}`, { replace: true });
    if (session && (path === '/sign-in' || path === '/')) navigate(safeNext(query.get('next')), { replace: true });
  }, [session, path, query]);

  if (!session) return path === '/sign-in' ? <SignInPage /> : null;
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <TopBar path={path} />
      <Main path={path}>{page(path)}</Main>
    </>
  );
}

/** Only console paths are followed after sign-in (never another origin). */
const safeNext = (next: string | null) => (next && /^\/(notebooks|keypairs|admin)(\/[\w./-]*)?$/.test(next) ? next : '/notebooks');

function page(path: string): ReactNode {
  let p: Record<string, string> | null;
  if (path === '/notebooks') return <NotebookListPage />;
  if (path === '/notebooks/new') return <CreateNotebookPage />;
  if ((p = match('/notebooks/:id/edit', path))) return <EditNotebookPage id={p.id!} key={p.id} />;
  if ((p = match('/notebooks/:id', path))) return <NotebookDetailPage id={p.id!} key={p.id} />;
  if (path === '/keypairs') return <KeyPairsPage />;
  if (path === '/admin' || path.startsWith('/admin/')) return <AdminPage path={path} />;
  return (
    <div className="page">
      <h1 tabIndex={-1}>Page not found</h1>
      <p>
        There is nothing at <code>{path}</code>. <Link to="/notebooks">Back to the notebooks</Link>.
      </p>
    </div>
  );
}

/** Moves focus to the new page's heading after a navigation (not on the first load). */
function Main({ path, children }: { path: string; children: ReactNode }) {
  const ref = useRef<HTMLElement>(null);
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const heading = ref.current?.querySelector<HTMLElement>('h1');
    if (heading) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: false });
    }
  }, [path]);
  return (
    <main id="main" ref={ref} tabIndex={-1}>
      {children}
    </main>
  );
}

function TopBar({ path }: { path: string }) {
  const { session, signOut, client } = useSession();
  if (!session) return null;
  const nav = [
    { to: '/notebooks', label: 'Notebooks' },
    { to: '/keypairs', label: 'Key pairs' },
    ...(isProjectAdmin(session) ? [{ to: '/admin', label: 'Administration' }] : []),
  ];
  const signOutNow = async () => {
    // Revoke a password sign-in's token; a pasted token belongs to whoever made it.
    if (session.method === 'password' && client) await client.request('DELETE', '/v3/auth/tokens').catch(() => undefined);
    signOut();
  };
  return (
    <header className="topbar">
      <Link to="/notebooks" className="brand">
        <span className="brand-mark" aria-hidden="true" />
        notebookd
      </Link>
      <nav aria-label="Main">
        <ul>
          {nav.map((n) => (
            <li key={n.to}>
              <Link to={n.to} aria-current={path === n.to || path.startsWith(`${n.to}/`) ? 'page' : undefined}>
                {n.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <div className="whoami">
        <span className="whoami-text">
          <strong data-testid="whoami">{session.userName || 'Token user'}</strong>
          <span className="muted small" title={session.projectId}>
            {session.projectName || `project ${session.projectId.slice(0, 8)}…`}
          </span>
        </span>
        <button type="button" className="btn btn-ghost btn-on-dark" onClick={signOutNow}>
          Sign out
        </button>
      </div>
    </header>
  );
}
