// Confirmation before destructive or disruptive actions, in a native modal <dialog>: the browser
// traps focus, Escape cancels, and focus returns to the button that opened it.
import { createContext, useCallback, useContext, useRef, useState, type ReactNode } from 'react';

export interface ConfirmRequest {
  title: string;
  body: ReactNode;
  confirmLabel: string;
  danger?: boolean;
}

type Confirm = (req: ConfirmRequest) => Promise<boolean>;

const ConfirmContext = createContext<Confirm | null>(null);

export function ConfirmProvider({ children }: { children: ReactNode }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [request, setRequest] = useState<ConfirmRequest | null>(null);
  const resolver = useRef<((ok: boolean) => void) | null>(null);
  const opener = useRef<Element | null>(null);

  const confirm = useCallback<Confirm>((req) => {
    resolver.current?.(false);
    opener.current = document.activeElement;
    setRequest(req);
    return new Promise<boolean>((resolve) => {
      resolver.current = resolve;
      // After React rendered the request into the dialog.
      requestAnimationFrame(() => {
        if (!dialog.current?.open) dialog.current?.showModal();
      });
    });
  }, []);

  const finish = (ok: boolean) => {
    resolver.current?.(ok);
    resolver.current = null;
    if (dialog.current?.open) dialog.current.close();
    if (opener.current instanceof HTMLElement && opener.current.isConnected) opener.current.focus();
  };

  return (
    <ConfirmContext.Provider value={confirm}>
      {children}
      <dialog ref={dialog} className="dialog" aria-labelledby="confirm-title" onCancel={(e) => (e.preventDefault(), finish(false))}>
        {request && (
          <form method="dialog" onSubmit={(e) => (e.preventDefault(), finish(true))}>
            <h2 id="confirm-title">{request.title}</h2>
            <div className="dialog-body">{request.body}</div>
            <div className="dialog-actions">
              <button type="button" className="btn btn-secondary" onClick={() => finish(false)} autoFocus={request.danger}>
                Cancel
              </button>
              <button type="submit" className={`btn ${request.danger ? 'btn-danger' : 'btn-primary'}`} autoFocus={!request.danger}>
                {request.confirmLabel}
              </button>
            </div>
          </form>
        )}
      </dialog>
    </ConfirmContext.Provider>
  );
}

export function useConfirm(): Confirm {
  const c = useContext(ConfirmContext);
  if (!c) throw new Error('useConfirm outside ConfirmProvider');
  return c;
}
