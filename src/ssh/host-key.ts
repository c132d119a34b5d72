// The gateway's host key, generated once and kept in the data directory (mode 0600), so clients'
// known_hosts stay valid across restarts (and across replicas that share the directory).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { readOrCreate } from '../proxy/secret-file.ts';

const sshUtils = ssh2.utils;

export const HOST_KEY_FILE = 'ssh_host_ed25519_key';

export async function loadOrCreateHostKey(dataDir: string): Promise<string> {
  const path = join(dataDir, HOST_KEY_FILE);
  const made: { private?: string; public?: string } = {};
  const parses = (content: string) => !(sshUtils.parseKey(content) instanceof Error);
  const key = await readOrCreate(
    path,
    () => {
      // ssh2 now and then generates a key its own parser rejects (seen once in a few hundred
      // starts, as "Malformed OpenSSH private key" from new Server): only keep one that parses.
      for (let attempt = 0; attempt < 8; attempt++) {
        Object.assign(made, sshUtils.generateKeyPairSync('ed25519', { comment: 'notebookd gateway' }));
        if (parses(made.private!)) return made.private!;
      }
      throw new Error('could not generate an SSH host key that ssh2 can read');
    },
    parses,
  );
  // The public half beside it, for operators' known_hosts files (by whoever made the key).
  if (key === made.private) await writeFile(`${path}.pub`, made.public + '\n', { mode: 0o644 });
  return key;
}
