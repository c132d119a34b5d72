// The console's small set of building blocks: buttons, badges, banners, error and empty states.
import type { ButtonHTMLAttributes, ReactNode } from 'react';
import { NotebookdError } from '../../../src/sdk/browser.ts';
import { statusLabel, statusTone, type Tone } from '../lib/notebook.ts';

type Variant = 'primary' | 'secondary' | 'danger' | 'ghost';

export function Button({ variant = 'secondary', busy = false, children, className, disabled, ...rest }: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: Variant; busy?: boolean }) {
  return (
    <button type="button" className={`btn btn-${variant}${className ? ` ${className}` : ''}`} disabled={disabled || busy} aria-busy={busy || undefined} {...rest}>
      {busy && <span className="spinner" aria-hidden="true" />}
      {children}
    </button>
  );
}

export function Spinner({ label = 'Loading' }: { label?: string }) {
  return (
    <span className="loading" role="status">
      <span className="spinner" aria-hidden="true" />
      {label}…
    </span>
  );
}

export function StatusBadge({ status }: { status: string }) {
  const tone = statusTone(status);
  return (
    <span className={`badge badge-${tone}`} data-status={status}>
      <span className={`dot${tone === 'busy' ? ' dot-pulse' : ''}`} aria-hidden="true" />
      {statusLabel(status)}
    </span>
  );
}

export function Banner({ tone, title, children, actions }: { tone: 'info' | 'warn' | 'bad' | 'ok'; title?: ReactNode; children?: ReactNode; actions?: ReactNode }) {
  return (
    <div className={`banner banner-${tone}`} role={tone === 'bad' || tone === 'warn' ? 'alert' : 'status'}>
      <div className="banner-body">
        {title && <strong className="banner-title">{title}</strong>}
        {children && <div>{children}</div>}
      </div>
      {actions && <div className="banner-actions">{actions}</div>}
    </div>
  );
}

/** What an error says: the API's error_code and error_msg when it is one, else its message. */
export function describeError(e: unknown): { code: string | null; message: string; requestId: string | null } {
  if (e instanceof NotebookdError) return { code: e.errorCode, message: e.errorMsg, requestId: e.requestId };
  if (e instanceof Error) {
    const offline = e.name === 'TypeError' || e.name === 'AbortError' || e.name === 'TimeoutError';
    return { code: null, message: offline ? `The server could not be reached (${e.message}).` : e.message, requestId: null };
  }
  return { code: null, message: String(e), requestId: null };
}

export function ErrorBox({ error, title = 'Something went wrong', onRetry }: { error: unknown; title?: string; onRetry?: () => void }) {
  const { code, message, requestId } = describeError(error);
  return (
    <div className="banner banner-bad" role="alert" tabIndex={-1} data-testid="error">
      <div className="banner-body">
        <strong className="banner-title">{title}</strong>
        <div>
          {code && <code className="error-code">{code}</code>} <span className="error-msg">{message}</span>
        </div>
        {requestId && <div className="muted small">Request id {requestId}</div>}
      </div>
      {onRetry && (
        <div className="banner-actions">
          <Button onClick={onRetry}>Try again</Button>
        </div>
      )}
    </div>
  );
}

export function EmptyState({ title, children, action }: { title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <div className="empty">
      <svg className="empty-art" viewBox="0 0 64 64" aria-hidden="true">
        <rect x="12" y="8" width="40" height="48" rx="6" fill="none" stroke="currentColor" strokeWidth="3" />
        <path d="M22 24h20M22 32h20M22 40h12" stroke="currentColor" strokeWidth="3" strokeLinecap="round" />
      </svg>
      <h2>{title}</h2>
      {children && <p className="muted">{children}</p>}
      {action}
    </div>
  );
}

export function Card({ title, actions, children, className }: { title?: ReactNode; actions?: ReactNode; children: ReactNode; className?: string }) {
  return (
    <section className={`card${className ? ` ${className}` : ''}`}>
      {(title || actions) && (
        <header className="card-head">
          {title && <h2>{title}</h2>}
          {actions && <div className="card-actions">{actions}</div>}
        </header>
      )}
      {children}
    </section>
  );
}

export function ToneDot({ tone }: { tone: Tone }) {
  return <span className={`dot dot-${tone}`} aria-hidden="true" />;
}

/** A value people may want to copy: an id, a token, an ssh command. */
export function Copyable({ value, label, secret = false }: { value: string; label: string; secret?: boolean }) {
  return (
    <span className="copyable">
      <code className={secret ? 'secret' : undefined}>{value}</code>
      <button
        type="button"
        className="btn btn-ghost btn-small"
        aria-label={`Copy ${label}`}
        onClick={(e) => {
          const button = e.currentTarget;
          void navigator.clipboard?.writeText(value).then(
            () => {
              button.textContent = 'Copied';
              setTimeout(() => (button.textContent = 'Copy'), 1500);
            },
            () => undefined,
          );
        }}
      >
        Copy
      </button>
    </span>
  );
}
