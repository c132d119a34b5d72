// CLI profiles: endpoint, project and credentials, kept in a 0600 JSON file
// (~/.config/notebookd/profiles.json, or NOTEBOOKD_PROFILE_FILE).
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Credentials } from '../sdk/http.ts';

export interface Profile {
  endpoint: string;
  projectId: string;
  credentials: Credentials;
}

interface ProfileFile {
  current: string;
  profiles: Record<string, Profile>;
}

export const profilePath = (env: NodeJS.ProcessEnv = process.env) =>
  env.NOTEBOOKD_PROFILE_FILE ?? join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'notebookd', 'profiles.json');

async function readProfiles(path: string): Promise<ProfileFile> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as ProfileFile;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { current: 'default', profiles: {} };
    throw new Error(`cannot read the profile file ${path}: ${(e as Error).message}`);
  }
}

export async function saveProfile(name: string, profile: Profile, path = profilePath()): Promise<void> {
  const file = await readProfiles(path);
  file.profiles[name] = profile;
  file.current = name;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
  await chmod(path, 0o600); // also when the file existed with looser permissions
}

export async function loadProfile(name: string | undefined, path = profilePath()): Promise<Profile> {
  const file = await readProfiles(path);
  const wanted = name ?? file.current;
  const profile = file.profiles[wanted];
  if (!profile) {
    throw new Error(name ? `no profile named '${name}' in ${path}` : `not logged in: run 'notebookd login --endpoint URL --project-id ID --token T' first`);
  }
  return profile;
}
