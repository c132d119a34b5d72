// Create a notebook: name, flavor, image, storage, lease, access (SSH with key pairs, allowed
// addresses) and start hooks. The server validates everything again and its answer is shown.
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { NotebookdError, type CreateNotebookRequest, type Flavor, type Image } from '../../../src/sdk/browser.ts';
import { EndpointsFields, endpointsFrom, endpointsWire, FlavorField, HooksFields, hooksFrom, hooksWire, ImageField, Section } from '../components/notebook-fields.tsx';
import { useToast } from '../components/toasts.tsx';
import { Button, ErrorBox, Spinner } from '../components/ui.tsx';
import { formatDuration } from '../lib/format.ts';
import { DEFAULT_RANGE, durationChoices, rangeFor, rangeFromError, rangeText } from '../lib/notebook.ts';
import { Link, navigate } from '../lib/router.tsx';
import { useClient } from '../lib/session.tsx';
import { useKeyPairs } from '../lib/use-keypairs.ts';
import { useLoad } from '../lib/use-load.ts';

// An HTML pattern (compiled with the v flag: the hyphen is escaped).
const NAME_RE = '[A-Za-z0-9_\\-]{1,64}';

export function CreateNotebookPage() {
  const { client } = useClient();
  const notify = useToast();
  const id = useId();
  const catalog = useLoad(async () => {
    const [flavors, images] = await Promise.all([client.flavors.list(), client.images.list({ limit: 200 })]);
    return { flavors: flavors.flavors, images: images.data };
  }, [client]);
  const keypairs = useKeyPairs();

  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [flavor, setFlavor] = useState('');
  const [image, setImage] = useState('');
  const [category, setCategory] = useState<'EVS' | 'EFS'>('EVS');
  const [capacity, setCapacity] = useState(5);
  const [leaseType, setLeaseType] = useState<'TIMING' | 'IDLE'>('TIMING');
  const [duration, setDuration] = useState<number>(DEFAULT_RANGE.minMs);
  const [endpoints, setEndpoints] = useState(endpointsFrom(null));
  const [hooks, setHooks] = useState(hooksFrom(null));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const errorRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    document.title = 'Create notebook · notebookd';
  }, []);
  useEffect(() => {
    const d = catalog.data;
    if (!d) return;
    setFlavor((f) => f || pickFlavor(d.flavors)?.id || '');
    setImage((i) => i || pickImage(d.images)?.id || '');
  }, [catalog.data]);
  useEffect(() => {
    if (error) errorRef.current?.querySelector<HTMLElement>('[role=alert]')?.focus();
  }, [error]);

  const chosenFlavor = catalog.data?.flavors.find((f) => f.id === flavor);
  const maxGb = category === 'EVS' ? (chosenFlavor?.evs_max_size ?? 4096) : 4096;
  const range = rangeFor(flavor);
  const choices = durationChoices(range);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const hooksBody = hooksWire(hooks);
    const body: CreateNotebookRequest = {
      name,
      flavor,
      image_id: image,
      volume: { category, ownership: 'MANAGED', capacity },
      lease: { type: leaseType, duration },
      ...(description && { description }),
      ...((endpoints.ssh || endpoints.notebookIps.trim()) && { endpoints: endpointsWire(endpoints) }),
      ...(hooksBody && { hooks: hooksBody }),
    };
    try {
      const created = await client.notebooks.create(body);
      notify(`${created.name} is being created`);
      navigate(`/notebooks/${created.id}`);
    } catch (err) {
      // An operator's own lease range comes back in ModelArts.6349: offer that one from now on.
      if (err instanceof NotebookdError && err.errorCode === 'ModelArts.6349') rangeFromError(flavor, err.errorMsg);
      setError(err);
      setBusy(false);
    }
  }

  if (catalog.loading) return <div className="page"><Spinner label="Loading flavors and images" /></div>;
  if (!catalog.data) return <div className="page"><h1>Create notebook</h1><ErrorBox error={catalog.error} title="Could not load flavors and images" onRetry={catalog.reload} /></div>;

  return (
    <div className="page page-narrow">
      <Link to="/notebooks" className="back">← Notebooks</Link>
      <h1>Create notebook</h1>
      <form className="form" onSubmit={submit} aria-labelledby={`${id}-h`} noValidate={false}>
        <span id={`${id}-h`} className="sr-only">New notebook</span>
        <Section legend="Basics">
          <div className="field">
            <label htmlFor={`${id}-name`}>Name</label>
            <input id={`${id}-name`} value={name} onChange={(e) => setName(e.target.value)} required pattern={NAME_RE} maxLength={64} aria-describedby={`${id}-name-hint`} autoFocus spellCheck={false} />
            <span id={`${id}-name-hint`} className="hint">
              Letters, digits, - and _; up to 64 characters.
            </span>
          </div>
          <div className="field">
            <label htmlFor={`${id}-desc`}>
              Description <span className="optional">optional</span>
            </label>
            <input id={`${id}-desc`} value={description} onChange={(e) => setDescription(e.target.value)} maxLength={512} />
          </div>
        </Section>

        <Section legend="Compute and software">
          <FlavorField flavors={catalog.data.flavors} value={flavor} onChange={setFlavor} hint={chosenFlavor?.description} />
          <ImageField images={catalog.data.images} value={image} onChange={setImage} />
        </Section>

        <Section legend="Storage" describe="Mounted at /home/ma-user/work; it keeps your files while the instance is stopped and can grow later.">
          <div className="inline-fields">
            <div className="field">
              <label htmlFor={`${id}-cat`}>Kind</label>
              <select id={`${id}-cat`} value={category} onChange={(e) => setCategory(e.target.value as 'EVS' | 'EFS')}>
                <option value="EVS">EVS (block volume)</option>
                <option value="EFS">EFS (shared file system)</option>
              </select>
            </div>
            <div className="field">
              <label htmlFor={`${id}-gb`}>Size (GB)</label>
              <input id={`${id}-gb`} type="number" min={5} max={maxGb} step={1} value={capacity} onChange={(e) => setCapacity(Number(e.target.value))} required aria-describedby={`${id}-gb-hint`} />
              <span id={`${id}-gb-hint`} className="hint">
                5 to {maxGb} GB.
              </span>
            </div>
          </div>
        </Section>

        <Section legend="Lease" describe="The instance stops by itself when its lease runs out; you can prolong it while it runs.">
          <div className="radio-cards" role="radiogroup" aria-label="Lease type">
            {(['TIMING', 'IDLE'] as const).map((t) => (
              <label key={t} className={`radio-card${leaseType === t ? ' radio-card-on' : ''}`}>
                <input type="radio" name="lease-type" value={t} checked={leaseType === t} onChange={() => setLeaseType(t)} />
                <span>
                  <strong>{t === 'TIMING' ? 'At a deadline' : 'When idle'}</strong>
                  <span className="muted small">{t === 'TIMING' ? 'Stops a fixed time after it starts (TIMING).' : 'Stops after a quiet period with no activity (IDLE).'}</span>
                </span>
              </label>
            ))}
          </div>
          <div className="field">
            <label htmlFor={`${id}-dur`}>{leaseType === 'IDLE' ? 'Stop after this long without activity' : 'Stop after'}</label>
            <select id={`${id}-dur`} value={duration} onChange={(e) => setDuration(Number(e.target.value))} aria-describedby={`${id}-dur-hint`}>
              {choices.map((d) => (
                <option key={d} value={d}>
                  {formatDuration(d)}
                </option>
              ))}
              <option value={-1}>Never (no auto-stop, where the operator allows it)</option>
            </select>
            <span id={`${id}-dur-hint`} className="hint">
              Allowed {rangeText(range)}.
            </span>
          </div>
        </Section>

        <Section legend="Access" describe="The notebook opens in the browser through notebookd; SSH is optional.">
          <EndpointsFields value={endpoints} onChange={setEndpoints} keypairs={keypairs} />
        </Section>

        <Section legend="Start hooks" describe="Commands run inside the instance every time it starts.">
          <HooksFields value={hooks} onChange={setHooks} />
        </Section>

        <div ref={errorRef}>{error !== null && <ErrorBox error={error} title="The notebook was not created" />}</div>
        <div className="form-actions">
          <Button type="submit" variant="primary" busy={busy}>
            Create notebook
          </Button>
          <Link to="/notebooks" className="btn btn-secondary">
            Cancel
          </Link>
        </div>
      </form>
    </div>
  );
}

const pickFlavor = (flavors: Flavor[]) => flavors.find((f) => !f.sold_out && !f.free) ?? flavors.find((f) => !f.sold_out);
const pickImage = (images: Image[]) => images.find((i) => i.status === 'ACTIVE' && i.type === 'BUILD_IN') ?? images[0];
