// SSH key pairs of the project (the KPS API shape): generate one (the private key is shown once,
// to download), import a public key, delete.
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import type { KeyPair } from '../../../src/sdk/browser.ts';
import { useConfirm } from '../components/confirm.tsx';
import { useToast } from '../components/toasts.tsx';
import { Banner, Button, Card, describeError, EmptyState, ErrorBox, Spinner } from '../components/ui.tsx';
import { formatDateTime } from '../lib/format.ts';
import { isViewer, useClient } from '../lib/session.tsx';
import { missingApi } from '../lib/use-keypairs.ts';
import { useLoad } from '../lib/use-load.ts';

export function KeyPairsPage() {
  const { client, session } = useClient();
  const confirm = useConfirm();
  const notify = useToast();
  const list = useLoad(() => client.keypairs.list(), [client]);
  const [created, setCreated] = useState<KeyPair | null>(null);

  useEffect(() => {
    document.title = 'Key pairs · notebookd';
  }, []);

  if (list.error && missingApi(list.error)) {
    return (
      <div className="page">
        <h1>Key pairs</h1>
        <Banner tone="info" title="This server has no key pair API">
          Key pairs need <code>/v3/{'{project_id}'}/keypairs</code> (the access gateway). SSH endpoints can still name key pairs by hand.
        </Banner>
      </div>
    );
  }

  async function remove(k: KeyPair) {
    const ok = await confirm({
      title: `Delete key pair ${k.name}?`,
      body: <p>Instances whose SSH endpoint names it no longer accept this key for new connections.</p>,
      confirmLabel: 'Delete key pair',
      danger: true,
    });
    if (!ok) return;
    try {
      await client.keypairs.delete(k.name);
      notify(`Key pair ${k.name} deleted`);
      if (created?.name === k.name) setCreated(null);
      await list.reload();
    } catch (e) {
      const { code, message } = describeError(e);
      notify(`${code ? `${code}: ` : ''}${message}`, 'bad');
    }
  }

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Key pairs</h1>
          <p className="muted">SSH keys that may log in to instances whose SSH endpoint names them.</p>
        </div>
      </div>
      {created?.private_key && <PrivateKeyNotice keypair={created} onDone={() => setCreated(null)} />}
      <div className="grid grid-wide-first">
        <Card title="Your project's key pairs">
          {list.loading && !list.data && <Spinner label="Loading key pairs" />}
          {list.error !== undefined && !missingApi(list.error) && <ErrorBox error={list.error} title="Could not load key pairs" onRetry={list.reload} />}
          {list.data && list.data.length === 0 && <EmptyState title="No key pairs yet">Create one to connect to your notebooks over SSH.</EmptyState>}
          {list.data && list.data.length > 0 && (
            <table className="table" aria-label="Key pairs">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Fingerprint</th>
                  <th scope="col">Created</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.data.map((k) => (
                  <tr key={k.name} data-keypair={k.name}>
                    <td>
                      <strong>{k.name}</strong>
                      <div className="muted small">{k.public_key.split(' ')[0]}</div>
                    </td>
                    <td className="mono small break">{k.fingerprint}</td>
                    <td className="small">{k.create_time ? formatDateTime(k.create_time) : ''}</td>
                    <td>
                      {!isViewer(session) && (
                        <Button variant="ghost" className="btn-danger-text" onClick={() => remove(k)} aria-label={`Delete key pair ${k.name}`}>
                          Delete
                        </Button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Card>
        {!isViewer(session) && (
          <Card title="Add a key pair">
            <KeyPairForm
              onCreated={(k) => {
                setCreated(k);
                notify(`Key pair ${k.name} ${k.private_key ? 'created' : 'imported'}`);
                void list.reload();
              }}
            />
          </Card>
        )}
      </div>
    </div>
  );
}

function KeyPairForm({ onCreated }: { onCreated(k: KeyPair): void }) {
  const { client } = useClient();
  const id = useId();
  const [mode, setMode] = useState<'generate' | 'import'>('generate');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const formRef = useRef<HTMLFormElement>(null);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setBusy(true);
    setError(null);
    try {
      const name = String(form.get('name')).trim();
      const k =
        mode === 'generate'
          ? await client.keypairs.create({ name, key_type: form.get('key_type') === 'rsa' ? 'rsa' : 'ed25519' })
          : await client.keypairs.create({ name, public_key: String(form.get('public_key')).trim() });
      formRef.current?.reset();
      onCreated(k);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="form" onSubmit={submit} ref={formRef}>
      <div className="segmented" role="group" aria-label="How to add it">
        <button type="button" aria-pressed={mode === 'generate'} onClick={() => setMode('generate')}>
          Generate
        </button>
        <button type="button" aria-pressed={mode === 'import'} onClick={() => setMode('import')}>
          Import public key
        </button>
      </div>
      <div className="field">
        <label htmlFor={`${id}-name`}>Name</label>
        <input id={`${id}-name`} name="name" required pattern="[A-Za-z0-9_.\-]{1,64}" spellCheck={false} aria-describedby={`${id}-name-hint`} />
        <span id={`${id}-name-hint`} className="hint">
          Letters, digits, . - and _; unique in the project.
        </span>
      </div>
      {mode === 'generate' ? (
        <div className="field">
          <label htmlFor={`${id}-type`}>Key type</label>
          <select id={`${id}-type`} name="key_type" defaultValue="ed25519">
            <option value="ed25519">Ed25519 (recommended)</option>
            <option value="rsa">RSA</option>
          </select>
        </div>
      ) : (
        <div className="field">
          <label htmlFor={`${id}-pub`}>Public key</label>
          <textarea id={`${id}-pub`} name="public_key" rows={4} required className="mono" spellCheck={false} placeholder="ssh-ed25519 AAAA… you@laptop" />
        </div>
      )}
      {error !== null && <ErrorBox error={error} title="The key pair was not added" />}
      <Button type="submit" variant="primary" busy={busy}>
        {mode === 'generate' ? 'Generate key pair' : 'Import key'}
      </Button>
    </form>
  );
}

function PrivateKeyNotice({ keypair, onDone }: { keypair: KeyPair; onDone(): void }) {
  const href = `data:application/x-pem-file;charset=utf-8,${encodeURIComponent(keypair.private_key ?? '')}`;
  return (
    <Banner
      tone="warn"
      title={`Save the private key of ${keypair.name} now`}
      actions={
        <>
          <a className="btn btn-primary" href={href} download={`${keypair.name}.pem`}>
            Download {keypair.name}.pem
          </a>
          <Button onClick={onDone}>I saved it</Button>
        </>
      }
    >
      notebookd does not keep it; it is shown only this once. Then: <code>chmod 600 {keypair.name}.pem</code> and <code>ssh -i {keypair.name}.pem …</code>
    </Banner>
  );
}
