// The store contract. Implementations live in sibling folders (sql/ for SQLite and PostgreSQL)
// and all pass test/contract/store.contract.ts. Only main.ts and tests pick one.
import type { Image } from '../domain/catalog.ts';
import type { AccessKey, AuthToken, Project, User } from '../domain/identity.ts';
import type { NotebookStatus } from '../domain/lifecycle.ts';
import type { Notebook, NotebookEvent } from '../domain/notebook.ts';

/** Thrown by updateNotebook when the stored version is not the expected one. */
export class VersionConflict extends Error {
  constructor(readonly notebookId: string) {
    super(`version conflict on notebook ${notebookId}`);
    this.name = 'VersionConflict';
  }
}

export type SortKey = 'create_at' | 'update_at' | 'name' | 'status' | 'flavor';

export interface NotebookQuery {
  projectId: string;
  ownerId?: string;
  /** Substring match, case-insensitive. */
  nameContains?: string;
  id?: string;
  status?: NotebookStatus;
  flavorId?: string;
  imageId?: string;
  feature?: 'DEFAULT' | 'NOTEBOOK';
  poolId?: string;
  workspaceId?: string;
  /** Every listed tag must match: key alone, or key=value. */
  tags?: { key: string; value?: string }[];
  /** Deleted instances are left out unless asked for. */
  includeDeleted?: boolean;
  sortKey: SortKey;
  sortDir: 'ASC' | 'DESC';
  offset: number;
  limit: number;
}

export interface Page<T> {
  items: T[];
  total: number;
}

export interface NotebookStore {
  /** Inserts a new notebook (version 1) with its first events, in one transaction. */
  insert(nb: Notebook, events: NotebookEvent[]): Promise<Notebook>;
  get(id: string): Promise<Notebook | undefined>;
  /**
   * Compare-and-set: writes `next` only if the stored version is `next.version`, then stores
   * version + 1 and appends the events in the same transaction. Throws VersionConflict.
   */
  update(next: Notebook, events: NotebookEvent[]): Promise<Notebook>;
  list(query: NotebookQuery): Promise<Page<Notebook>>;
  /** Instances the reconciler must look at: transitional statuses, or running ones to health-check. */
  listActive(): Promise<Notebook[]>;
  /** The earliest lease stop time among RUNNING instances (the indexed due column), or null. */
  nextDueAt(): Promise<number | null>;
  /** RUNNING instances whose stop time is at or before `now`, earliest first, at most `limit`. */
  listDue(now: number, limit: number): Promise<Notebook[]>;
  /** Live (not DELETED) instances of one owner, optionally of one feature: for quotas. */
  countByOwner(projectId: string, ownerId: string, feature?: 'DEFAULT' | 'NOTEBOOK'): Promise<number>;
  /** Distinct tag keys with their values over a project's live instances. */
  tagSummary(projectId: string): Promise<{ key: string; values: string[] }[]>;
  countUsingImage(imageId: string): Promise<number>;
  events(notebookId: string, afterId: number, limit: number): Promise<NotebookEvent[]>;
  appendEvents(events: NotebookEvent[]): Promise<void>;
}

export interface ImageStore {
  insert(image: Image): Promise<void>;
  get(id: string): Promise<Image | undefined>;
  /** Registered images visible to the project (built-in images come from the catalog, not here). */
  list(projectId: string): Promise<Image[]>;
  update(image: Image): Promise<void>;
}

export interface IdentityStore {
  countProjects(): Promise<number>;
  insertProject(p: Project): Promise<void>;
  getProject(id: string): Promise<Project | undefined>;
  insertUser(u: User): Promise<void>;
  getUser(id: string): Promise<User | undefined>;
  getUserByName(projectId: string, name: string): Promise<User | undefined>;
  insertToken(t: AuthToken): Promise<void>;
  getToken(tokenHash: string): Promise<AuthToken | undefined>;
  revokeToken(tokenHash: string): Promise<void>;
  insertAccessKey(k: AccessKey): Promise<void>;
  getAccessKey(accessKey: string): Promise<AccessKey | undefined>;
  listAccessKeys(userId: string): Promise<AccessKey[]>;
  deleteAccessKey(accessKey: string): Promise<void>;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  readonly notebooks: NotebookStore;
  readonly images: ImageStore;
  readonly identity: IdentityStore;
  /** Applies pending numbered migrations; safe to call on every start and from several replicas. */
  migrate(): Promise<void>;
  /** Cheap liveness query for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
