// The project's key pairs for the SSH endpoint fields, or 'unavailable' on a server without the
// key pair API (/v3/{project_id}/keypairs answers APIGW.0101 there).
import { useEffect, useState } from 'react';
import { NotebookdError, type KeyPair } from '../../../src/sdk/browser.ts';
import { useClient } from './session.tsx';

export const missingApi = (e: unknown) => e instanceof NotebookdError && e.httpStatus === 404 && e.errorCode === 'APIGW.0101';

export function useKeyPairs(): KeyPair[] | null | 'unavailable' {
  const { client } = useClient();
  const [keypairs, setKeypairs] = useState<KeyPair[] | null | 'unavailable'>(null);
  useEffect(() => {
    let live = true;
    client.keypairs.list().then(
      (list) => live && setKeypairs(list),
      (e) => live && setKeypairs(missingApi(e) ? 'unavailable' : []),
    );
    return () => {
      live = false;
    };
  }, [client]);
  return keypairs;
}
