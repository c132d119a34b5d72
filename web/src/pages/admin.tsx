// Administration for project admins (their project's users and quotas) and system administrators
// (every project, users anywhere, project quotas).
import { useEffect, useId, useState, type FormEvent } from 'react';
import { useConfirm } from '../components/confirm.tsx';
import { useToast } from '../components/toasts.tsx';
import { Banner, Button, Card, describeError, EmptyState, ErrorBox, Spinner } from '../components/ui.tsx';
import { adminApi, QUOTA_KEYS, type AdminUser, type Limits, type QuotaKey, type Usage } from '../lib/admin-api.ts';
import { formatDateTime } from '../lib/format.ts';
import { Link } from '../lib/router.tsx';
import { isProjectAdmin, isSystemAdmin, useClient } from '../lib/session.tsx';
import { missingApi } from '../lib/use-keypairs.ts';
import { useLoad } from '../lib/use-load.ts';

const ROLES = [
  ['member', 'Member: their own instances'],
  ['admin', 'Admin: every instance of the project, its users'],
  ['viewer', 'Viewer: reads the project, changes nothing'],
] as const;

export function AdminPage({ path }: { path: string }) {
  const { session, client } = useClient();
  const api = adminApi(client);
  const system = isSystemAdmin(session);
  const tab = path.split('/')[2] ?? 'users';
  const tabs = [['users', 'Users'], ...(system ? [['projects', 'Projects']] : []), ['quotas', 'Quotas']] as const;
  const [projectId, setProjectId] = useState(session.projectId);
  const projects = useLoad(() => (system ? api.listProjects() : Promise.resolve([])), [client, system]);

  useEffect(() => {
    document.title = 'Administration · notebookd';
  }, []);

  if (!isProjectAdmin(session)) {
    return (
      <div className="page">
        <h1>Administration</h1>
        <Banner tone="info" title="For administrators">
          Your role in this project does not include administration. {session.method === 'token' && !session.roles.length && 'A pasted token carries no role information; sign in with a password to see it.'}
        </Banner>
      </div>
    );
  }
  if (projects.error && missingApi(projects.error)) return <NoAdminApi />;

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Administration</h1>
          <p className="muted">{system ? 'System administrator: every project.' : 'Project administrator: this project.'}</p>
        </div>
        {system && projects.data && tab !== 'projects' && (
          <div className="field field-inline">
            <label htmlFor="admin-project">Project</label>
            <select id="admin-project" value={projectId} onChange={(e) => setProjectId(e.target.value)}>
              {projects.data.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name} ({p.id.slice(0, 8)}…)
                </option>
              ))}
            </select>
          </div>
        )}
      </div>
      <nav className="subnav" aria-label="Administration">
        {tabs.map(([key, label]) => (
          <Link key={key} to={`/admin/${key}`} aria-current={tab === key ? 'page' : undefined}>
            {label}
          </Link>
        ))}
      </nav>
      {tab === 'users' && <UsersTab projectId={projectId} key={`u-${projectId}`} />}
      {tab === 'projects' && system && <ProjectsTab onChanged={projects.reload} />}
      {tab === 'quotas' && <QuotasTab projectId={projectId} key={`q-${projectId}`} />}
    </div>
  );
}

function NoAdminApi() {
  return (
    <div className="page">
      <h1>Administration</h1>
      <Banner tone="info" title="This server has no administration API">
        Users, projects and quotas need the identity API (<code>/v3/projects</code>, <code>/v3/users</code>, <code>/v1/{'{project_id}'}/quotas</code>). Use <code>notebookd admin …</code> on the server meanwhile.
      </Banner>
    </div>
  );
}

function useAdmin() {
  const { client, session } = useClient();
  const notify = useToast();
  const fail = (e: unknown) => {
    const { code, message } = describeError(e);
    notify(`${code ? `${code}: ` : ''}${message}`, 'bad');
  };
  return { api: adminApi(client), session, notify, fail, confirm: useConfirm() };
}

// ---- users -------------------------------------------------------------------------------------

function UsersTab({ projectId }: { projectId: string }) {
  const { api, session, notify, fail, confirm } = useAdmin();
  const users = useLoad(() => api.listUsers(projectId), [projectId]);
  const [quotaFor, setQuotaFor] = useState<AdminUser | null>(null);
  const [passwordFor, setPasswordFor] = useState<AdminUser | null>(null);
  if (users.error && missingApi(users.error)) return <NoAdminApi />;

  const setRole = async (u: AdminUser, role: string) => {
    try {
      await api.assignRole(projectId, u.id, role);
      notify(`${u.name} is now ${role}`);
      await users.reload();
    } catch (e) {
      fail(e);
    }
  };
  const remove = async (u: AdminUser) => {
    if (!(await confirm({ title: `Delete user ${u.name}?`, body: <p>Their tokens and access keys stop working. A user who still owns instances cannot be deleted.</p>, confirmLabel: 'Delete user', danger: true }))) return;
    try {
      await api.deleteUser(u.id);
      notify(`User ${u.name} deleted`);
      await users.reload();
    } catch (e) {
      fail(e);
    }
  };

  return (
    <div className="grid grid-wide-first">
      <Card title="Users">
        {users.loading && !users.data && <Spinner label="Loading users" />}
        {users.error !== undefined && !users.data && <ErrorBox error={users.error} title="Could not load users" onRetry={users.reload} />}
        {users.data && users.data.length === 0 && <EmptyState title="No users in this project" />}
        {users.data && users.data.length > 0 && (
          <table className="table" aria-label="Users">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {users.data.map((u) => (
                <tr key={u.id} data-user={u.name}>
                  <td>
                    <strong>{u.name}</strong>
                    {u.system_admin && <span className="chip">system admin</span>}
                    {!u.password_set && <div className="muted small">no password (keys or issued tokens only)</div>}
                  </td>
                  <td>
                    <label className="sr-only" htmlFor={`role-${u.id}`}>
                      Role of {u.name}
                    </label>
                    <select id={`role-${u.id}`} value={u.role} onChange={(e) => void setRole(u, e.target.value)} disabled={u.id === session.userId}>
                      {ROLES.map(([r]) => (
                        <option key={r} value={r}>
                          {r}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td className="small">{u.create_time ? formatDateTime(Date.parse(u.create_time)) : ''}</td>
                  <td>
                    <div className="actions">
                      <Button variant="ghost" onClick={() => setQuotaFor(u)} aria-label={`Quota of ${u.name}`}>
                        Quota
                      </Button>
                      <Button variant="ghost" onClick={() => setPasswordFor(u)} aria-label={`Set the password of ${u.name}`}>
                        Password
                      </Button>
                      {u.id !== session.userId && (
                        <Button variant="ghost" className="btn-danger-text" onClick={() => void remove(u)} aria-label={`Delete user ${u.name}`}>
                          Delete
                        </Button>
                      )}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {passwordFor && <PasswordForm user={passwordFor} onDone={() => setPasswordFor(null)} />}
        {quotaFor && <UserQuotaForm projectId={projectId} user={quotaFor} onDone={() => setQuotaFor(null)} />}
      </Card>
      <Card title="Add a user">
        <NewUserForm projectId={projectId} onCreated={() => void users.reload()} />
      </Card>
    </div>
  );
}

function NewUserForm({ projectId, onCreated }: { projectId: string; onCreated(): void }) {
  const { api, notify } = useAdmin();
  const id = useId();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = e.currentTarget;
    const data = new FormData(form);
    setBusy(true);
    setError(null);
    try {
      const password = String(data.get('password'));
      const u = await api.createUser({ name: String(data.get('name')).trim(), ...(password && { password }), default_project_id: projectId, role: String(data.get('role')) });
      notify(`User ${u.name} created`);
      form.reset();
      onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <form className="form" onSubmit={submit}>
      <div className="field">
        <label htmlFor={`${id}-name`}>User name</label>
        <input id={`${id}-name`} name="name" required autoComplete="off" spellCheck={false} />
      </div>
      <div className="field">
        <label htmlFor={`${id}-pw`}>
          Password <span className="optional">optional</span>
        </label>
        <input id={`${id}-pw`} name="password" type="password" minLength={8} maxLength={128} autoComplete="new-password" aria-describedby={`${id}-pw-hint`} />
        <span id={`${id}-pw-hint`} className="hint">
          8 to 128 characters. Without one, the user signs in with access keys or issued tokens.
        </span>
      </div>
      <div className="field">
        <label htmlFor={`${id}-role`}>Role</label>
        <select id={`${id}-role`} name="role" defaultValue="member">
          {ROLES.map(([r, label]) => (
            <option key={r} value={r}>
              {label}
            </option>
          ))}
        </select>
      </div>
      {error !== null && <ErrorBox error={error} title="The user was not created" />}
      <Button type="submit" variant="primary" busy={busy}>
        Add user
      </Button>
    </form>
  );
}

function PasswordForm({ user, onDone }: { user: AdminUser; onDone(): void }) {
  const { api, notify } = useAdmin();
  const id = useId();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    setBusy(true);
    try {
      await api.updateUser(user.id, { password: String(new FormData(e.currentTarget).get('password')) });
      notify(`Password of ${user.name} set`);
      onDone();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }
  return (
    <form className="form inset" onSubmit={submit} aria-label={`Password of ${user.name}`}>
      <div className="field">
        <label htmlFor={`${id}-pw`}>New password for {user.name}</label>
        <input id={`${id}-pw`} name="password" type="password" minLength={8} maxLength={128} required autoComplete="new-password" autoFocus />
      </div>
      {error !== null && <ErrorBox error={error} title="The password was not changed" />}
      <div className="form-actions">
        <Button type="submit" variant="primary" busy={busy}>
          Set password
        </Button>
        <Button onClick={onDone}>Cancel</Button>
      </div>
    </form>
  );
}

// ---- quotas ------------------------------------------------------------------------------------

type LimitInputs = Record<QuotaKey, string>;
const toInputs = (l: Limits): LimitInputs => Object.fromEntries(QUOTA_KEYS.map(([k]) => [k, l[k] === null || l[k] === undefined ? '' : String(l[k])])) as LimitInputs;
/** Empty means unlimited (null on the wire). */
const fromInputs = (v: LimitInputs): Partial<Limits> => Object.fromEntries(QUOTA_KEYS.map(([k]) => [k, v[k].trim() === '' ? null : Number(v[k])]));

function LimitsTable({ label, limits, usage, editable, onChange }: { label: string; limits: LimitInputs; usage?: Usage; editable: boolean; onChange(v: LimitInputs): void }) {
  const id = useId();
  return (
    <table className="table quota-table" aria-label={label}>
      <thead>
        <tr>
          <th scope="col">Resource</th>
          {usage && <th scope="col">In use</th>}
          <th scope="col">Limit</th>
        </tr>
      </thead>
      <tbody>
        {QUOTA_KEYS.map(([k, name]) => (
          <tr key={k}>
            <th scope="row">
              <label htmlFor={`${id}-${k}`}>{name}</label>
            </th>
            {usage && <td>{usage[k] ?? 0}</td>}
            <td>
              <input id={`${id}-${k}`} type="number" min={0} step={k === 'vcpus' ? 'any' : 1} value={limits[k]} placeholder="unlimited" disabled={!editable} onChange={(e) => onChange({ ...limits, [k]: e.target.value })} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function QuotasTab({ projectId }: { projectId: string }) {
  const { api, session, notify } = useAdmin();
  const system = isSystemAdmin(session);
  const quotas = useLoad(() => api.quotas(projectId), [projectId]);
  const [project, setProject] = useState<LimitInputs | null>(null);
  const [userDefault, setUserDefault] = useState<LimitInputs | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (!quotas.data) return;
    setProject((p) => p ?? toInputs(quotas.data!.project.limits));
    setUserDefault((u) => u ?? toInputs(quotas.data!.user_default.limits));
  }, [quotas.data]);
  if (quotas.error && missingApi(quotas.error)) return <NoAdminApi />;
  if (!quotas.data || !project || !userDefault) return quotas.error ? <ErrorBox error={quotas.error} title="Could not load quotas" onRetry={quotas.reload} /> : <Spinner label="Loading quotas" />;

  async function save(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const next = await api.setProjectQuotas(projectId, { project: fromInputs(project!), user_default: fromInputs(userDefault!) });
      quotas.setData(next);
      notify('Quotas saved');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={save} className="grid">
      <Card title="Project">
        <LimitsTable label="Project limits" limits={project} usage={quotas.data.project.usage} editable={system} onChange={setProject} />
        {Array.isArray(quotas.data.project.limits.flavors) && <p className="muted small">Flavors allowed: {quotas.data.project.limits.flavors.join(', ')}</p>}
      </Card>
      <Card title="Default for each user">
        <LimitsTable label="Default user limits" limits={userDefault} editable={system} onChange={setUserDefault} />
        <p className="muted small">A user's own quota (Users → Quota) overrides this default.</p>
      </Card>
      {system ? (
        <div className="form-actions span-all">
          {error !== null && <ErrorBox error={error} title="Quotas were not saved" />}
          <Button type="submit" variant="primary" busy={busy}>
            Save quotas
          </Button>
        </div>
      ) : (
        <p className="muted span-all">Project quotas are set by a system administrator.</p>
      )}
    </form>
  );
}

function UserQuotaForm({ projectId, user, onDone }: { projectId: string; user: AdminUser; onDone(): void }) {
  const { api, notify } = useAdmin();
  const q = useLoad(() => api.userQuota(projectId, user.id), [projectId, user.id]);
  const [limits, setLimits] = useState<LimitInputs | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (q.data) setLimits((l) => l ?? toInputs(q.data!.limits));
  }, [q.data]);
  async function save(e: FormEvent) {
    e.preventDefault();
    try {
      await api.setUserQuota(projectId, user.id, fromInputs(limits!));
      notify(`Quota of ${user.name} saved`);
      onDone();
    } catch (err) {
      setError(err);
    }
  }
  async function reset() {
    try {
      await api.clearUserQuota(projectId, user.id);
      notify(`${user.name} is back on the default quota`);
      onDone();
    } catch (err) {
      setError(err);
    }
  }
  return (
    <form className="form inset" onSubmit={save} aria-label={`Quota of ${user.name}`}>
      <h3>Quota of {user.name}</h3>
      {!limits ? (
        q.error ? <ErrorBox error={q.error} /> : <Spinner label="Loading the quota" />
      ) : (
        <LimitsTable label={`Limits of ${user.name}`} limits={limits} usage={q.data?.usage} editable onChange={setLimits} />
      )}
      {error !== null && <ErrorBox error={error} title="The quota was not saved" />}
      <div className="form-actions">
        <Button type="submit" variant="primary" disabled={!limits}>
          Save quota
        </Button>
        <Button onClick={reset}>Back to the default</Button>
        <Button variant="ghost" onClick={onDone}>
          Close
        </Button>
      </div>
    </form>
  );
}

// ---- projects ----------------------------------------------------------------------------------

function ProjectsTab({ onChanged }: { onChanged(): void }) {
  const { api, notify, fail, confirm } = useAdmin();
  const projects = useLoad(() => api.listProjects(), []);
  const id = useId();
  const [error, setError] = useState<unknown>(null);
  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = e.currentTarget;
    setError(null);
    try {
      const p = await api.createProject(String(new FormData(form).get('name')).trim());
      notify(`Project ${p.name} created`);
      form.reset();
      await projects.reload();
      onChanged();
    } catch (err) {
      setError(err);
    }
  }
  async function remove(p: { id: string; name: string }) {
    if (!(await confirm({ title: `Delete project ${p.name}?`, body: <p>Its users and quotas are deleted too. A project that still has instances cannot be deleted.</p>, confirmLabel: 'Delete project', danger: true }))) return;
    try {
      await api.deleteProject(p.id);
      notify(`Project ${p.name} deleted`);
      await projects.reload();
      onChanged();
    } catch (e) {
      fail(e);
    }
  }
  return (
    <div className="grid grid-wide-first">
      <Card title="Projects">
        {projects.loading && !projects.data && <Spinner label="Loading projects" />}
        {projects.error !== undefined && !projects.data && <ErrorBox error={projects.error} onRetry={projects.reload} />}
        {projects.data && (
          <table className="table" aria-label="Projects">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Id</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {projects.data.map((p) => (
                <tr key={p.id}>
                  <td>
                    <strong>{p.name}</strong>
                  </td>
                  <td className="mono small">{p.id}</td>
                  <td className="small">{formatDateTime(Date.parse(p.create_time))}</td>
                  <td>
                    <Button variant="ghost" className="btn-danger-text" onClick={() => void remove(p)} aria-label={`Delete project ${p.name}`}>
                      Delete
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <Card title="New project">
        <form className="form" onSubmit={create}>
          <div className="field">
            <label htmlFor={`${id}-name`}>Name</label>
            <input id={`${id}-name`} name="name" required spellCheck={false} />
          </div>
          {error !== null && <ErrorBox error={error} title="The project was not created" />}
          <Button type="submit" variant="primary">
            Create project
          </Button>
        </form>
      </Card>
    </div>
  );
}
