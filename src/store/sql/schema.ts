// Kysely table types shared by the SQLite and PostgreSQL stores. Times are epoch ms (integer on
// SQLite, bigint on PostgreSQL, read back as JS numbers on both); booleans are 0/1 integers so
// that one row shape serves both dialects.
import type { Generated } from 'kysely';

/** The `doc` column holds the whole record as JSON; every other column is derived from it on write. */
export interface NotebooksTable {
  id: string;
  project_id: string;
  owner_id: string;
  name: string;
  /** Lower-cased in JS so that name search is case-insensitive the same way on both dialects. */
  name_lower: string;
  status: string;
  flavor_id: string;
  image_id: string;
  feature: string;
  pool_id: string | null;
  workspace_id: string;
  create_at: number;
  update_at: number;
  version: number;
  /** dueAt(nb): non-null only while RUNNING with the lease enabled. */
  due_at: number | null;
  doc: string;
}

export interface NotebookTagsTable {
  notebook_id: string;
  key: string;
  value: string;
}

export interface NotebookEventsTable {
  id: Generated<number>;
  notebook_id: string;
  at: number;
  type: string;
  message: string;
  /** JSON, or null when the event carries no data. */
  data: string | null;
}

export interface ImagesTable {
  id: string;
  project_id: string | null;
  status: string;
  create_at: number;
  doc: string;
}

export interface ProjectsTable {
  id: string;
  name: string;
  create_at: number;
}

export interface UsersTable {
  id: string;
  project_id: string;
  name: string;
  domain_id: string;
  domain_name: string;
  role: string;
  system_admin: number;
  password_hash: string | null;
  create_at: number;
}

export interface AuthTokensTable {
  token_hash: string;
  user_id: string;
  project_id: string;
  expires_at: number;
  revoked: number;
  create_at: number;
}

export interface AccessKeysTable {
  access_key: string;
  secret_key: string;
  user_id: string;
  description: string;
  status: string;
  create_at: number;
}

export interface QuotasTable {
  project_id: string;
  /** 'project', 'user-default' or 'user:<id>'. */
  subject: string;
  doc: string;
  update_at: number;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: number;
  project_id: string | null;
  actor_id: string | null;
  actor_name: string | null;
  source_ip: string;
  method: string;
  path: string;
  operation: string;
  target: string | null;
  status_code: number;
  error_code: string | null;
  request_id: string;
}

export interface KeypairsTable {
  project_id: string;
  name: string;
  user_id: string;
  type: string;
  public_key: string;
  fingerprint: string;
  create_at: number;
}

export interface WebhookDeliveriesTable {
  id: Generated<number>;
  hook_id: string;
  event_id: number;
  notebook_id: string;
  /** The JSON body, exactly as sent. */
  body: string;
  status: string;
  attempts: number;
  next_attempt_at: number;
  create_at: number;
  last_error: string | null;
  delivered_at: number | null;
}

export interface EventCursorsTable {
  name: string;
  event_id: number;
}

export interface Database {
  notebooks: NotebooksTable;
  notebook_tags: NotebookTagsTable;
  notebook_events: NotebookEventsTable;
  images: ImagesTable;
  projects: ProjectsTable;
  users: UsersTable;
  auth_tokens: AuthTokensTable;
  access_keys: AccessKeysTable;
  webhook_deliveries: WebhookDeliveriesTable;
  event_cursors: EventCursorsTable;
  keypairs: KeypairsTable;
  quotas: QuotasTable;
  audit_log: AuditLogTable;
}

export type StoreKind = 'sqlite' | 'postgres';
