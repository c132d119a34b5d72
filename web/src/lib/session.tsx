// Who is signed in, and the SDK client that acts as them. The session lives in sessionStorage
// (this tab) or, when the user asks to stay signed in, localStorage. Any 401 from the API ends it.
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import { createBrowserClient, type BrowserClient } from '../../../src/sdk/browser.ts';

export interface Session {
  projectId: string;
  projectName: string;
  token: string;
  userId: string;
  userName: string;
  /** Role names from the token: admin | member | viewer, and system_admin. */
  roles: string[];
  expiresAt: number | null;
  method: 'password' | 'token';
}

const KEY = 'notebookd.console.session';

function load(): Session | null {
  for (const store of [sessionStorage, localStorage]) {
    try {
      const raw = store.getItem(KEY);
      if (!raw) continue;
      const s = JSON.parse(raw) as Session;
      if (s.expiresAt !== null && s.expiresAt <= Date.now()) {
        store.removeItem(KEY);
        continue;
      }
      if (s.projectId && s.token) return s;
    } catch {
      store.removeItem(KEY);
    }
  }
  return null;
}

interface SessionContextValue {
  session: Session | null;
  client: BrowserClient | null;
  /** Why the last session ended (shown on the sign-in page), if it did not end by choice. */
  endedBecause: string | null;
  signIn(s: Session, remember: boolean): void;
  signOut(reason?: string): void;
}

const SessionContext = createContext<SessionContextValue | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(load);
  const [endedBecause, setEndedBecause] = useState<string | null>(null);

  const signOut = useCallback((reason?: string) => {
    sessionStorage.removeItem(KEY);
    localStorage.removeItem(KEY);
    setEndedBecause(reason ?? null);
    setSession(null);
  }, []);

  const signIn = useCallback((s: Session, remember: boolean) => {
    (remember ? localStorage : sessionStorage).setItem(KEY, JSON.stringify(s));
    (remember ? sessionStorage : localStorage).removeItem(KEY);
    setEndedBecause(null);
    setSession(s);
  }, []);

  const client = useMemo(() => {
    if (!session) return null;
    // A 401 means the token expired or was revoked: back to the sign-in page, saying why.
    const guarded: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (res.status === 401) queueMicrotask(() => signOut('Your session has ended (the token expired or was revoked). Sign in again.'));
      return res;
    };
    return createBrowserClient({ endpoint: location.origin, projectId: session.projectId, token: session.token, fetch: guarded });
  }, [session, signOut]);

  const value = useMemo(() => ({ session, client, endedBecause, signIn, signOut }), [session, client, endedBecause, signIn, signOut]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionContextValue {
  const v = useContext(SessionContext);
  if (!v) throw new Error('useSession outside SessionProvider');
  return v;
}

/** The client of the signed-in user (pages behind the sign-in gate only). */
export function useClient(): { client: BrowserClient; session: Session } {
  const { client, session } = useSession();
  if (!client || !session) throw new Error('useClient without a session');
  return { client, session };
}

export const isSystemAdmin = (s: Session) => s.roles.includes('system_admin');
export const isProjectAdmin = (s: Session) => s.roles.includes('admin') || isSystemAdmin(s);
export const isViewer = (s: Session) => s.roles.includes('viewer') && !isProjectAdmin(s);
