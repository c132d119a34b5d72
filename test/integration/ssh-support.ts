// Helpers for the SSH gateway tests: the real OpenSSH client (ssh, sftp, ssh-keygen) run as child
// processes against notebookd's gateway, with throwaway keys and no known_hosts.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const SSH_OPTIONS = [
  '-o', 'StrictHostKeyChecking=no',
  '-o', 'UserKnownHostsFile=/dev/null',
  '-o', 'BatchMode=yes',
  '-o', 'IdentitiesOnly=yes',
  '-o', 'LogLevel=ERROR',
  '-o', 'ConnectTimeout=10',
  '-F', '/dev/null',
];

/** Runs a program to its end (or kills it after timeoutMs), feeding `input` to its stdin. */
export function run(command: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A program that exits without reading its input closes the pipe first: not an error here.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

export async function keyDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'notebookd-ssh-keys-'));
}

/** A fresh ed25519 pair from ssh-keygen: the private key file and the public key line. */
export async function sshKeygen(dir: string, name: string, type: 'ed25519' | 'rsa' = 'ed25519'): Promise<{ path: string; publicKey: string }> {
  const path = join(dir, name);
  const r = await run('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-C', name, '-f', path]);
  if (r.code !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
  return { path, publicKey: (await readFile(`${path}.pub`, 'utf8')).trim() };
}

/** Writes a private key as ssh wants it (mode 0600). */
export async function writeKey(dir: string, name: string, privateKey: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, privateKey.endsWith('\n') ? privateKey : privateKey + '\n', { mode: 0o600 });
  await chmod(path, 0o600);
  return path;
}

/** Parses ssh://<id>@<host>:<port>. */
export function parseSshUri(uri: string): { user: string; host: string; port: number } {
  const m = /^ssh:\/\/([^@]+)@\[?([^\]]+?)\]?:(\d+)$/.exec(uri);
  if (!m) throw new Error(`not an ssh uri: ${uri}`);
  return { user: m[1]!, host: m[2]!, port: Number(m[3]) };
}

export interface Target {
  user: string;
  host: string;
  port: number;
}

export const sshArgs = (t: Target, key: string, extra: string[] = []) => [...SSH_OPTIONS, '-i', key, '-p', String(t.port), ...extra, `${t.user}@${t.host}`];

export function ssh(t: Target, key: string, command: string | null, opts: { extra?: string[]; input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return run('ssh', [...sshArgs(t, key, opts.extra), ...(command === null ? [] : [command])], opts);
}

/** Starts a long-lived ssh (e.g. -N -L ...) and returns the process; the caller kills it. */
export function sshBackground(t: Target, key: string, extra: string[], command?: string): ChildProcess {
  return spawn('ssh', [...sshArgs(t, key, extra), ...(command ? [command] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
}

export const portAccepts = (port: number, host = '127.0.0.1') =>
  new Promise<boolean>((resolve) => {
    const s = createConnection({ port, host });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
