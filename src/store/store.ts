// The store contract. Implementations live in sibling folders (sql/ for SQLite and PostgreSQL)
// and all pass test/contract/store.contract.ts. Only main.ts and tests pick one.
import type { Image } from '../domain/catalog.ts';
import type { AuditRecord, NewAuditRecord } from '../domain/audit.ts';
import type { AccessKey, AuthToken, Project, User } from '../domain/identity.ts';
import type { KeyPair } from '../domain/keypair.ts';
import type { NotebookStatus } from '../domain/lifecycle.ts';
import type { Notebook, NotebookEvent } from '../domain/notebook.ts';
import type { ProjectQuotaLimits, UsageRow } from '../domain/quota.ts';

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
   * `steps`: how many writes this one stands for (mutate.ts coalesces queued writes to one
   * instance); the version advances by that many. Default 1.
   * `base`: the stored record this write replaces (version `next.version`), when the caller has it:
   * the store then knows what changed without reading the row (mutate.ts passes it).
   */
  update(next: Notebook, events: NotebookEvent[], steps?: number, base?: Notebook): Promise<Notebook>;
  list(query: NotebookQuery): Promise<Page<Notebook>>;
  /** Instances the reconciler must look at: transitional statuses, or running ones to health-check. */
  listActive(): Promise<Notebook[]>;
  /** The earliest due time (domain dueAt: the next expiry warning or stop) among RUNNING instances (the indexed due column), or null. */
  nextDueAt(): Promise<number | null>;
  /** RUNNING instances due (dueAt) at or before `now`, earliest first, at most `limit`. */
  listDue(now: number, limit: number): Promise<Notebook[]>;
  /** Live (not DELETED) instances of one owner, optionally of one feature: for quotas. */
  countByOwner(projectId: string, ownerId: string, feature?: 'DEFAULT' | 'NOTEBOOK'): Promise<number>;
  /** Distinct tag keys with their values over a project's live instances. */
  tagSummary(projectId: string): Promise<{ key: string; values: string[] }[]>;
  countUsingImage(imageId: string): Promise<number>;
  /** Light rows of a project's live (not DELETED) instances, for quota usage. */
  usageRows(projectId: string): Promise<UsageRow[]>;
  events(notebookId: string, afterId: number, limit: number): Promise<NotebookEvent[]>;
  /** Events of every instance with an id above `afterId`, by id (webhook fan-out). */
  eventsSince(afterId: number, limit: number): Promise<NotebookEvent[]>;
  appendEvents(events: NotebookEvent[]): Promise<void>;
}

/** One event for one operator webhook: queued, retried with backoff, delivered or given up. */
export interface WebhookDelivery {
  id: number;
  hookId: string;
  eventId: number;
  notebookId: string;
  /** The JSON body, exactly as it is sent. */
  body: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: number;
  createAt: number;
  lastError: string | null;
  deliveredAt: number | null;
}

export type NewWebhookDelivery = Pick<WebhookDelivery, 'hookId' | 'eventId' | 'notebookId' | 'body' | 'createAt'>;

export type WebhookOutcome =
  | { status: 'delivered'; at: number }
  | { status: 'pending'; nextAttemptAt: number; error: string }
  | { status: 'failed'; error: string };

export interface WebhookStore {
  /** The named fan-out cursor: the highest event id whose deliveries are queued; null before the first enqueue. */
  cursor(name: string): Promise<number | null>;
  /** The highest event id of any instance (0 without events): where a new cursor starts. */
  lastEventId(): Promise<number>;
  /**
   * Queues deliveries (one already queued for the same hook and event is left as it is) and moves
   * the cursor forward to `cursorTo` (never back), in one transaction.
   */
  enqueue(cursorName: string, cursorTo: number, deliveries: NewWebhookDelivery[]): Promise<void>;
  /** Pending deliveries whose next attempt is due at `now`, earliest first. */
  due(now: number, limit: number): Promise<WebhookDelivery[]>;
  /** The earliest next attempt among pending deliveries, or null. */
  nextAttemptAt(): Promise<number | null>;
  /**
   * Takes a pending delivery for one attempt: counts the attempt and moves its next attempt to
   * `until` (when it is retried if this process dies mid-attempt), only if its next attempt is
   * still `expectedNextAttemptAt` (compare-and-set: one replica per attempt).
   */
  claim(id: number, expectedNextAttemptAt: number, until: number): Promise<boolean>;
  finish(id: number, outcome: WebhookOutcome): Promise<void>;
  /** Deliveries, oldest first (operators and tests). */
  list(filter: { hookId?: string; eventId?: number; notebookId?: string; status?: WebhookDelivery['status'] }, limit: number): Promise<WebhookDelivery[]>;
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

  listProjects(): Promise<Project[]>;
  getProjectByName(name: string): Promise<Project | undefined>;
  /** Writes the project's name. */
  updateProject(p: Project): Promise<void>;
  /** Deletes the project, its users (with their tokens and access keys) and its quotas, in one transaction. */
  deleteProject(id: string): Promise<void>;
  /** Users by project and/or exact name, ordered by creation. */
  listUsers(filter: { projectId?: string; name?: string }): Promise<User[]>;
  /** Writes name, role, systemAdmin and passwordHash. */
  updateUser(u: User): Promise<void>;
  /** Deletes the user with its tokens and access keys. */
  deleteUser(id: string): Promise<void>;
  countSystemAdmins(): Promise<number>;
  /** Revokes every token of the user; returns how many were live. */
  revokeUserTokens(userId: string, now: number): Promise<number>;
  /** Forgets tokens that expired before `before`. */
  deleteExpiredTokens(before: number): Promise<number>;
  /** Writes status and description. */
  updateAccessKey(k: AccessKey): Promise<void>;
  getQuota(projectId: string, subject: QuotaSubject): Promise<Partial<ProjectQuotaLimits> | undefined>;
  putQuota(projectId: string, subject: QuotaSubject, limits: Partial<ProjectQuotaLimits>, now: number): Promise<void>;
  deleteQuota(projectId: string, subject: QuotaSubject): Promise<void>;
}

/** Whose limits a quota row holds: the project's, the default for its users, or one user's. */
export type QuotaSubject = 'project' | 'user-default' | `user:${string}`;

export interface AuditQuery {
  projectId: string;
  actorId?: string;
  operation?: string;
  /** Inclusive bounds on `at`, epoch ms. */
  sinceAt?: number;
  untilAt?: number;
  offset: number;
  limit: number;
}

export interface AuditStore {
  append(record: NewAuditRecord): Promise<void>;
  /** Newest first. */
  list(query: AuditQuery): Promise<Page<AuditRecord>>;
}

export interface KeyPairStore {
  /** Inserts a key pair; resolves false (and changes nothing) when the project already has that name. */
  insert(k: KeyPair): Promise<boolean>;
  get(projectId: string, name: string): Promise<KeyPair | undefined>;
  /** A project's key pairs (one user's when userId is given), oldest first. */
  list(projectId: string, userId?: string): Promise<KeyPair[]>;
  /** Resolves whether a row was deleted. */
  delete(projectId: string, name: string): Promise<boolean>;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  readonly notebooks: NotebookStore;
  readonly images: ImageStore;
  readonly identity: IdentityStore;
  readonly webhooks: WebhookStore;
  readonly audit: AuditStore;
  readonly keypairs: KeyPairStore;
  /** Applies pending numbered migrations; safe to call on every start and from several replicas. */
  migrate(): Promise<void>;
  /** Cheap liveness query for /readyz. */
  ping(): Promise<void>;
  /**
   * A number that changes whenever another process committed to the store (SQLite's
   * data_version), read without a query; absent where that is not known cheaply (PostgreSQL).
   * Caches of store data (auth/credential-cache.ts) drop their entries when it changes.
   */
  externalWrites?(): number;
  close(): Promise<void>;
}
