// The gateway's host key, generated once and kept in the data directory (mode 0600), so clients'
// known_hosts stay valid across restarts (and across replicas that share the directory).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2 from 'ssh2';

const sshUtils = ssh2.utils;

export const HOST_KEY_FILE = 'ssh_host_ed25519_key';

export async function loadOrCreateHostKey(dataDir: string): Promise<string> {
  const path = join(dataDir, HOST_KEY_FILE);
  const existing = await readFile(path, 'utf8').catch(() => null);
  if (existing) {
    const parsed = sshUtils.parseKey(existing);
    if (parsed instanceof Error) throw new Error(`the SSH host key ${path} cannot be read: ${parsed.message}`);
    return existing;
  }
  await mkdir(dataDir, { recursive: true });
  const key = sshUtils.generateKeyPairSync('ed25519', { comment: 'notebookd gateway' });
  try {
    await writeFile(path, key.private, { mode: 0o600, flag: 'wx' });
    await writeFile(`${path}.pub`, key.public + '\n', { mode: 0o644 });
    return key.private;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return readFile(path, 'utf8'); // another process made it first
  }
}
