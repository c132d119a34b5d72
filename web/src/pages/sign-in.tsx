// Sign in with a user name and password (an IAM token from POST /v3/auth/tokens) or with an
// existing X-Auth-Token (the bootstrap token, or one from `notebookd login`).
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { createBrowserClient, describeToken, signInWithPassword } from '../../../src/sdk/browser.ts';
import { Banner, Button, ErrorBox } from '../components/ui.tsx';
import { useSession, type Session } from '../lib/session.tsx';

type Method = 'password' | 'token';

export function SignInPage() {
  const { signIn, endedBecause } = useSession();
  const [method, setMethod] = useState<Method>('password');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [remember, setRemember] = useState(false);
  const errorRef = useRef<HTMLDivElement>(null);
  const id = useId();

  useEffect(() => {
    document.title = 'Sign in · notebookd';
  }, []);
  useEffect(() => {
    if (error) errorRef.current?.querySelector<HTMLElement>('[role=alert]')?.focus();
  }, [error]);

  async function withPassword(form: FormData) {
    const info = await signInWithPassword({
      endpoint: location.origin,
      userName: String(form.get('user')),
      password: String(form.get('password')),
      project: String(form.get('project') ?? ''),
    });
    return { ...info, method: 'password' as const };
  }

  async function withToken(form: FormData): Promise<Session> {
    const token = String(form.get('token')).trim();
    let projectId = String(form.get('project_id') ?? '').trim();
    // Who holds the token, where the server can tell (GET /v3/auth/tokens).
    const info = await describeToken(location.origin, token);
    if (!projectId) projectId = info?.projectId ?? '';
    if (!projectId) throw new Error('Enter the project id the token belongs to.');
    // The token must work for this project: list one page of notebooks with it.
    await createBrowserClient({ endpoint: location.origin, projectId, token }).notebooks.list({ limit: 10 });
    return {
      token,
      projectId,
      projectName: info?.projectId === projectId ? info.projectName : '',
      userId: info?.userId ?? '',
      userName: info?.userName ?? '',
      roles: info?.roles ?? [],
      expiresAt: info?.expiresAt ?? null,
      method: 'token',
    };
  }

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const form = new FormData(e.currentTarget);
      const session = method === 'password' ? await withPassword(form) : await withToken(form);
      signIn(session, remember);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" className="signin">
      <div className="signin-card">
        <div className="signin-brand">
          <span className="brand-mark" aria-hidden="true" />
          <span>notebookd</span>
        </div>
        <h1>Sign in</h1>
        <p className="muted">Jupyter notebook instances for your team.</p>
        {endedBecause && <Banner tone="info">{endedBecause}</Banner>}
        <div className="tabs" role="tablist" aria-label="Sign-in method">
          {(['password', 'token'] as const).map((m) => (
            <button
              key={m}
              type="button"
              role="tab"
              id={`${id}-tab-${m}`}
              aria-selected={method === m}
              aria-controls={`${id}-panel`}
              tabIndex={method === m ? 0 : -1}
              className={method === m ? 'tab tab-active' : 'tab'}
              onClick={() => (setMethod(m), setError(null))}
              onKeyDown={(e) => {
                if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
                  const next = m === 'password' ? 'token' : 'password';
                  setMethod(next);
                  document.getElementById(`${id}-tab-${next}`)?.focus();
                }
              }}
            >
              {m === 'password' ? 'User name and password' : 'Access token'}
            </button>
          ))}
        </div>
        <form id={`${id}-panel`} role="tabpanel" aria-labelledby={`${id}-tab-${method}`} onSubmit={submit} className="form" key={method}>
          {method === 'password' ? (
            <>
              <div className="field">
                <label htmlFor={`${id}-user`}>User name</label>
                <input id={`${id}-user`} name="user" autoComplete="username" required autoFocus />
              </div>
              <div className="field">
                <label htmlFor={`${id}-password`}>Password</label>
                <input id={`${id}-password`} name="password" type="password" autoComplete="current-password" required />
              </div>
              <div className="field">
                <label htmlFor={`${id}-project`}>
                  Project <span className="optional">optional</span>
                </label>
                <input id={`${id}-project`} name="project" aria-describedby={`${id}-project-hint`} spellCheck={false} />
                <span id={`${id}-project-hint`} className="hint">
                  A project name or id; leave empty for your own project.
                </span>
              </div>
            </>
          ) : (
            <>
              <div className="field">
                <label htmlFor={`${id}-token`}>X-Auth-Token</label>
                <input id={`${id}-token`} name="token" type="password" autoComplete="off" required autoFocus spellCheck={false} />
              </div>
              <div className="field">
                <label htmlFor={`${id}-project-id`}>Project id</label>
                <input id={`${id}-project-id`} name="project_id" aria-describedby={`${id}-pid-hint`} spellCheck={false} pattern="[0-9a-fA-F]{32}" />
                <span id={`${id}-pid-hint`} className="hint">
                  32 hexadecimal characters; may stay empty when the server can tell it from the token.
                </span>
              </div>
            </>
          )}
          <label className="check">
            <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} /> Keep me signed in on this device
          </label>
          <div ref={errorRef}>{error !== null && <ErrorBox error={error} title="Could not sign in" />}</div>
          <Button type="submit" variant="primary" busy={busy} className="btn-block">
            Sign in
          </Button>
        </form>
      </div>
    </main>
  );
}
