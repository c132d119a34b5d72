// Edit a notebook. Name, description and storage growth may change while it runs; flavor, image,
// access endpoints and hooks only once it is stopped: those fields are disabled while it runs and
// say why (the rule comes from the same table the server enforces), with a way to stop it here.
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import type { Notebook, UpdateNotebookRequest } from '../../../src/sdk/browser.ts';
import { useConfirm } from '../components/confirm.tsx';
import {
  EndpointsFields,
  endpointsEqual,
  endpointsFrom,
  endpointsWire,
  FlavorField,
  HooksFields,
  hooksEqual,
  hooksFrom,
  hooksWire,
  ImageField,
  Section,
} from '../components/notebook-fields.tsx';
import { useToast } from '../components/toasts.tsx';
import { Banner, Button, describeError, ErrorBox, Spinner, StatusBadge } from '../components/ui.tsx';
import { allows, fieldBlocked } from '../lib/notebook.ts';
import { Link, navigate } from '../lib/router.tsx';
import { useClient } from '../lib/session.tsx';
import { useKeyPairs } from '../lib/use-keypairs.ts';
import { useLoad } from '../lib/use-load.ts';

// An HTML pattern (compiled with the v flag: the hyphen is escaped).
const NAME_RE = '[A-Za-z0-9_\\-]{1,64}';

export function EditNotebookPage({ id }: { id: string }) {
  const { client } = useClient();
  const nb = useLoad(() => client.notebooks.show(id), [client, id], { pollMs: 3000 });
  useEffect(() => {
    document.title = `Edit ${nb.data?.name ?? 'notebook'} · notebookd`;
  }, [nb.data?.name]);

  if (nb.loading && !nb.data) return <div className="page"><Spinner label="Loading the notebook" /></div>;
  if (!nb.data) {
    return (
      <div className="page">
        <h1>Edit notebook</h1>
        <ErrorBox error={nb.error} title="Could not load this notebook" onRetry={nb.reload} />
      </div>
    );
  }
  return <EditForm nb={nb.data} onChanged={(n) => nb.setData(n)} />;
}

function EditForm({ nb, onChanged }: { nb: Notebook; onChanged(nb: Notebook): void }) {
  const { client } = useClient();
  const notify = useToast();
  const confirm = useConfirm();
  const id = useId();
  // The form starts from the instance as first loaded; later refreshes only change its status.
  const [initial] = useState(() => ({ nb, endpoints: endpointsFrom(nb), hooks: hooksFrom(nb) }));
  const [name, setName] = useState(nb.name);
  const [description, setDescription] = useState(nb.description);
  const [grow, setGrow] = useState<string>('');
  const [flavor, setFlavor] = useState(nb.flavor);
  const [image, setImage] = useState(nb.image.id);
  const [endpoints, setEndpoints] = useState(initial.endpoints);
  const [hooks, setHooks] = useState(initial.hooks);
  const [busy, setBusy] = useState(false);
  const [stopping, setStopping] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const errorRef = useRef<HTMLDivElement>(null);
  const keypairs = useKeyPairs();
  const options = useLoad(async () => {
    const [switchable, images] = await Promise.all([client.notebooks.switchableFlavors(nb.id), client.images.list({ limit: 200 })]);
    return { flavors: switchable.flavors, images: images.data };
  }, [client, nb.id]);

  useEffect(() => {
    if (error) errorRef.current?.querySelector<HTMLElement>('[role=alert]')?.focus();
  }, [error]);

  const liveBlocked = fieldBlocked(nb, 'name');
  const storageBlocked = fieldBlocked(nb, 'storage_new_size');
  const stoppedOnly = fieldBlocked(nb, 'flavor');
  /** Why a stopped-only section is locked: what to do, then the server's own rule for its field. */
  const lockedBecause = (field: 'flavor' | 'endpoints' | 'hooks') => {
    const rule = fieldBlocked(nb, field);
    if (!rule) return null;
    return `${nb.status === 'RUNNING' ? 'Stop the instance to change this.' : 'This changes only while the instance is stopped.'} ${rule}`;
  };

  const changes = (): UpdateNotebookRequest => {
    const body: UpdateNotebookRequest = {};
    if (name !== initial.nb.name) body.name = name;
    if (description !== initial.nb.description) body.description = description;
    if (grow !== '' && Number(grow) !== nb.volume.capacity) body.storage_new_size = Number(grow);
    if (!stoppedOnly) {
      if (flavor !== initial.nb.flavor) body.flavor = flavor;
      if (image !== initial.nb.image.id) body.image_id = image;
      if (!endpointsEqual(endpoints, initial.endpoints)) body.endpoints = endpointsWire(endpoints);
      if (!hooksEqual(hooks, initial.hooks)) body.hooks = hooksWire(hooks) ?? { container_hooks: {} };
    }
    return body;
  };

  async function submit(e: FormEvent) {
    e.preventDefault();
    const body = changes();
    if (Object.keys(body).length === 0) {
      notify('Nothing changed', 'info');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const updated = await client.notebooks.update(nb.id, body);
      notify(`${updated.name}: saved`);
      navigate(`/notebooks/${nb.id}`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  async function stopNow() {
    const ok = await confirm({
      title: `Stop ${nb.name}?`,
      body: <p>Running kernels end; files on its storage stay. The fields below unlock once it has stopped.</p>,
      confirmLabel: 'Stop instance',
      danger: true,
    });
    if (!ok) return;
    setStopping(true);
    try {
      onChanged(await client.notebooks.stop(nb.id));
      notify(`${nb.name}: stop requested`);
    } catch (err) {
      const { code, message } = describeError(err);
      notify(`${code ? `${code}: ` : ''}${message}`, 'bad');
    } finally {
      setStopping(false);
    }
  }

  return (
    <div className="page page-narrow">
      <Link to={`/notebooks/${nb.id}`} className="back">
        ← {nb.name}
      </Link>
      <div className="title-row">
        <h1>Edit {initial.nb.name}</h1>
        <StatusBadge status={nb.status} />
      </div>

      <form className="form" onSubmit={submit}>
        <Section legend="Basics" disabledBecause={liveBlocked} describe="These may change at any time, also while the instance runs.">
          <div className="field">
            <label htmlFor={`${id}-name`}>Name</label>
            <input id={`${id}-name`} value={name} onChange={(e) => setName(e.target.value)} required pattern={NAME_RE} maxLength={64} spellCheck={false} />
          </div>
          <div className="field">
            <label htmlFor={`${id}-desc`}>Description</label>
            <input id={`${id}-desc`} value={description} onChange={(e) => setDescription(e.target.value)} maxLength={512} />
          </div>
        </Section>

        <Section legend="Storage" disabledBecause={storageBlocked} describe={`${nb.volume.category}, ${nb.volume.capacity} GB now. Storage can grow (never shrink), also while the instance runs.`}>
          <div className="field">
            <label htmlFor={`${id}-grow`}>
              New size (GB) <span className="optional">optional</span>
            </label>
            <input id={`${id}-grow`} type="number" min={nb.volume.capacity + 1} max={4096} step={1} value={grow} onChange={(e) => setGrow(e.target.value)} placeholder={`more than ${nb.volume.capacity}`} />
          </div>
        </Section>

        {stoppedOnly && allows(nb, 'stop') && (
          <Banner tone="info" title="Some settings need a stopped instance" actions={<Button busy={stopping} onClick={stopNow}>Stop instance</Button>}>
            Flavor, image, access and start hooks can change once <strong>{nb.name}</strong> has stopped. Stop it here; this form stays open and unlocks them.
          </Banner>
        )}

        <Section legend="Compute and software" disabledBecause={lockedBecause('flavor')}>
          {options.data ? (
            <>
              <FlavorField flavors={options.data.flavors} value={flavor} onChange={setFlavor} hint="Only flavors this instance can switch to (same category and architecture)." />
              <ImageField images={options.data.images} value={image} onChange={setImage} />
            </>
          ) : options.error ? (
            <ErrorBox error={options.error} title="Could not load flavors and images" onRetry={options.reload} />
          ) : (
            <Spinner label="Loading flavors and images" />
          )}
        </Section>

        <Section legend="Access" disabledBecause={lockedBecause('endpoints')}>
          <EndpointsFields value={endpoints} onChange={setEndpoints} keypairs={keypairs} />
        </Section>

        <Section legend="Start hooks" disabledBecause={lockedBecause('hooks')}>
          <HooksFields value={hooks} onChange={setHooks} />
        </Section>

        <div ref={errorRef}>{error !== null && <ErrorBox error={error} title="Nothing was changed" />}</div>
        <div className="form-actions">
          <Button type="submit" variant="primary" busy={busy}>
            Save changes
          </Button>
          <Link to={`/notebooks/${nb.id}`} className="btn btn-secondary">
            Cancel
          </Link>
        </div>
      </form>
    </div>
  );
}
