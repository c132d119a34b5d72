// Form sections shared by the create and edit pages: flavor, image, access endpoints (SSH with
// key pairs, allowed addresses) and start hooks, with their conversions to and from the wire.
import { useId, type ReactNode } from 'react';
import type { CreateNotebookRequest, Flavor, HookConfig, Image, KeyPair, Notebook } from '../../../src/sdk/browser.ts';
import { formatMemoryKb } from '../lib/format.ts';
import { Link } from '../lib/router.tsx';

/** A fieldset that may be disabled, saying why right under its legend. */
export function Section({ legend, disabledBecause, children, describe }: { legend: string; disabledBecause?: string | null; children: ReactNode; describe?: string }) {
  const id = useId();
  return (
    <fieldset className="section" disabled={!!disabledBecause} aria-describedby={disabledBecause ? `${id}-why` : undefined} data-section={legend}>
      <legend>{legend}</legend>
      {describe && <p className="muted small section-desc">{describe}</p>}
      {disabledBecause && (
        <p id={`${id}-why`} className="locked" data-testid="locked-reason">
          <svg viewBox="0 0 16 16" className="icon" aria-hidden="true">
            <rect x="3" y="7" width="10" height="7" rx="1.5" fill="none" stroke="currentColor" strokeWidth="1.5" />
            <path d="M5.5 7V5a2.5 2.5 0 015 0v2" fill="none" stroke="currentColor" strokeWidth="1.5" />
          </svg>
          {disabledBecause}
        </p>
      )}
      {children}
    </fieldset>
  );
}

export function flavorText(f: Flavor): string {
  const gpu = f.gpu ? ` · ${f.gpu.gpu}× ${f.gpu.type}` : '';
  return `${f.vcpus} vCPU · ${formatMemoryKb(f.memory)}${gpu} — ${f.id}${f.sold_out ? ' (sold out)' : ''}`;
}

export function FlavorField({ flavors, value, onChange, label = 'Flavor', hint }: { flavors: Flavor[]; value: string; onChange(v: string): void; label?: string; hint?: string }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)} required aria-describedby={hint ? `${id}-hint` : undefined}>
        {!flavors.some((f) => f.id === value) && <option value={value}>{value || 'Choose a flavor'}</option>}
        {flavors.map((f) => (
          <option key={f.id} value={f.id} disabled={f.sold_out}>
            {flavorText(f)}
          </option>
        ))}
      </select>
      {hint && (
        <span id={`${id}-hint`} className="hint">
          {hint}
        </span>
      )}
    </div>
  );
}

export function ImageField({ images, value, onChange }: { images: Image[]; value: string; onChange(v: string): void }) {
  const id = useId();
  const chosen = images.find((i) => i.id === value);
  return (
    <div className="field">
      <label htmlFor={id}>Image</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)} required aria-describedby={`${id}-hint`}>
        {!chosen && <option value={value}>{value || 'Choose an image'}</option>}
        {images.map((i) => (
          <option key={i.id} value={i.id} disabled={i.status !== 'ACTIVE'}>
            {i.name}:{i.tag}
            {i.type === 'BUILD_IN' ? '' : ' (registered)'}
          </option>
        ))}
      </select>
      <span id={`${id}-hint`} className="hint">
        {chosen?.description || 'The software the instance runs.'}
      </span>
    </div>
  );
}

// ---- endpoints ---------------------------------------------------------------------------------

export interface EndpointsValue {
  ssh: boolean;
  keyPairNames: string[];
  sshIps: string;
  notebookIps: string;
}

const splitIps = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);

export function endpointsFrom(nb: Notebook | null): EndpointsValue {
  const ssh = nb?.endpoints.find((e) => e.service === 'SSH');
  const web = nb?.endpoints.find((e) => e.service === 'NOTEBOOK');
  return { ssh: !!ssh, keyPairNames: ssh?.key_pair_names ?? [], sshIps: (ssh?.allowed_access_ips ?? []).join('\n'), notebookIps: (web?.allowed_access_ips ?? []).join('\n') };
}

export function endpointsWire(v: EndpointsValue): NonNullable<CreateNotebookRequest['endpoints']> {
  return [
    { service: 'NOTEBOOK', allowed_access_ips: splitIps(v.notebookIps) },
    ...(v.ssh ? [{ service: 'SSH', key_pair_names: v.keyPairNames, allowed_access_ips: splitIps(v.sshIps) }] : []),
  ];
}

export const endpointsEqual = (a: EndpointsValue, b: EndpointsValue) => JSON.stringify(endpointsWire(a)) === JSON.stringify(endpointsWire(b));

/** key pairs: the project's (null while loading; 'unavailable' when the server has no key pair API). */
export function EndpointsFields({ value, onChange, keypairs }: { value: EndpointsValue; onChange(v: EndpointsValue): void; keypairs: KeyPair[] | null | 'unavailable' }) {
  const id = useId();
  const set = (patch: Partial<EndpointsValue>) => onChange({ ...value, ...patch });
  const toggleKey = (name: string, on: boolean) => set({ keyPairNames: on ? [...value.keyPairNames, name] : value.keyPairNames.filter((n) => n !== name) });
  return (
    <>
      <div className="field">
        <label htmlFor={`${id}-nb-ips`}>
          Browser access from <span className="optional">optional</span>
        </label>
        <textarea id={`${id}-nb-ips`} rows={2} value={value.notebookIps} onChange={(e) => set({ notebookIps: e.target.value })} aria-describedby={`${id}-nb-ips-hint`} spellCheck={false} placeholder="e.g. 10.0.0.0/8" />
        <span id={`${id}-nb-ips-hint`} className="hint">
          Up to five IP addresses or CIDR blocks, one per line; empty admits every address.
        </span>
      </div>
      <label className="check">
        <input type="checkbox" checked={value.ssh} onChange={(e) => set({ ssh: e.target.checked })} /> Enable SSH access
      </label>
      {value.ssh && (
        <div className="subsection">
          <div className="field" role="group" aria-labelledby={`${id}-keys`}>
            <span id={`${id}-keys`} className="label">
              Key pairs allowed to log in
            </span>
            {keypairs === null && <span className="hint">Loading key pairs…</span>}
            {keypairs === 'unavailable' && (
              <>
                <input
                  aria-labelledby={`${id}-keys`}
                  value={value.keyPairNames.join(', ')}
                  onChange={(e) => set({ keyPairNames: e.target.value.split(',').map((s) => s.trim()).filter(Boolean) })}
                  placeholder="key pair names, comma separated"
                />
                <span className="hint">This server has no key pair API; type the names.</span>
              </>
            )}
            {Array.isArray(keypairs) && keypairs.length === 0 && (
              <span className="hint">
                The project has no key pairs yet. <Link to="/keypairs">Create or import one</Link> first.
              </span>
            )}
            {Array.isArray(keypairs) &&
              keypairs.map((k) => (
                <label className="check" key={k.name}>
                  <input type="checkbox" checked={value.keyPairNames.includes(k.name)} onChange={(e) => toggleKey(k.name, e.target.checked)} /> {k.name}{' '}
                  <span className="muted small mono">{k.fingerprint}</span>
                </label>
              ))}
          </div>
          <div className="field">
            <label htmlFor={`${id}-ssh-ips`}>
              SSH access from <span className="optional">optional</span>
            </label>
            <textarea id={`${id}-ssh-ips`} rows={2} value={value.sshIps} onChange={(e) => set({ sshIps: e.target.value })} spellCheck={false} placeholder="e.g. 192.0.2.10" />
            <span className="hint">Up to five addresses or CIDR blocks; empty admits every address.</span>
          </div>
        </div>
      )}
    </>
  );
}

// ---- hooks -------------------------------------------------------------------------------------

export interface HookValue {
  enabled: boolean;
  type: 'SCRIPT' | 'COMMAND';
  /** SCRIPT: an absolute path in the instance; COMMAND: the shell text (sent base64-encoded). */
  text: string;
  mode: 'BLOCK' | 'ASYNC';
}
export interface HooksValue {
  preStart: HookValue;
  postStart: HookValue;
}

const emptyHook = (): HookValue => ({ enabled: false, type: 'COMMAND', text: '', mode: 'BLOCK' });

const toBase64 = (text: string) => btoa(String.fromCharCode(...new TextEncoder().encode(text)));
function fromBase64(b64: string): string {
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
  } catch {
    return b64;
  }
}

function hookFrom(h: HookConfig | undefined): HookValue {
  if (!h) return emptyHook();
  const type = h.type === 'SCRIPT' ? 'SCRIPT' : 'COMMAND';
  return { enabled: true, type, text: type === 'COMMAND' ? fromBase64(h.script) : h.script, mode: h.mode === 'ASYNC' ? 'ASYNC' : 'BLOCK' };
}

export const hooksFrom = (nb: Notebook | null): HooksValue => ({
  preStart: hookFrom(nb?.hooks?.container_hooks?.pre_start as HookConfig | undefined),
  postStart: hookFrom(nb?.hooks?.container_hooks?.post_start as HookConfig | undefined),
});

const hookWire = (h: HookValue): HookConfig | undefined =>
  h.enabled && h.text.trim() ? { type: h.type, mode: h.mode, script: h.type === 'COMMAND' ? toBase64(h.text) : h.text.trim() } : undefined;

/** null: no hooks (clears them on update). */
export function hooksWire(v: HooksValue): CreateNotebookRequest['hooks'] | null {
  const pre = hookWire(v.preStart);
  const post = hookWire(v.postStart);
  if (!pre && !post) return null;
  return { container_hooks: { ...(pre && { pre_start: pre }), ...(post && { post_start: post }) } };
}

export const hooksEqual = (a: HooksValue, b: HooksValue) => JSON.stringify(hooksWire(a)) === JSON.stringify(hooksWire(b));

export function HooksFields({ value, onChange }: { value: HooksValue; onChange(v: HooksValue): void }) {
  return (
    <>
      <HookField label="Before start" hint="Runs before the Jupyter server starts." value={value.preStart} onChange={(preStart) => onChange({ ...value, preStart })} />
      <HookField label="After start" hint="Runs once the Jupyter server is up." value={value.postStart} onChange={(postStart) => onChange({ ...value, postStart })} />
    </>
  );
}

function HookField({ label, hint, value, onChange }: { label: string; hint: string; value: HookValue; onChange(v: HookValue): void }) {
  const id = useId();
  const set = (patch: Partial<HookValue>) => onChange({ ...value, ...patch });
  return (
    <div className="hook">
      <label className="check">
        <input type="checkbox" checked={value.enabled} onChange={(e) => set({ enabled: e.target.checked })} /> {label}
        <span className="muted small"> — {hint}</span>
      </label>
      {value.enabled && (
        <div className="subsection">
          <div className="inline-fields">
            <div className="field">
              <label htmlFor={`${id}-type`}>Kind</label>
              <select id={`${id}-type`} value={value.type} onChange={(e) => set({ type: e.target.value as HookValue['type'] })}>
                <option value="COMMAND">Shell commands</option>
                <option value="SCRIPT">Script file in the instance</option>
              </select>
            </div>
            <div className="field">
              <label htmlFor={`${id}-mode`}>Start waits for it</label>
              <select id={`${id}-mode`} value={value.mode} onChange={(e) => set({ mode: e.target.value as HookValue['mode'] })}>
                <option value="BLOCK">Yes (BLOCK)</option>
                <option value="ASYNC">No (ASYNC)</option>
              </select>
            </div>
          </div>
          <div className="field">
            <label htmlFor={`${id}-text`}>{value.type === 'COMMAND' ? 'Commands' : 'Script path'}</label>
            {value.type === 'COMMAND' ? (
              <textarea id={`${id}-text`} rows={3} className="mono" value={value.text} onChange={(e) => set({ text: e.target.value })} spellCheck={false} placeholder="pip install --user pandas" required />
            ) : (
              <input id={`${id}-text`} className="mono" value={value.text} onChange={(e) => set({ text: e.target.value })} spellCheck={false} placeholder="/home/ma-user/work/setup.sh" pattern="/.*" required />
            )}
          </div>
        </div>
      )}
    </div>
  );
}
