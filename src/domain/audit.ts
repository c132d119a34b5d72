// The audit trail: one record per mutating API call (or admin CLI command), successful or not.
// Bodies are never recorded, so passwords and secrets cannot end up here.

export interface AuditRecord {
  /** Assigned by the store; monotonic. */
  id: number;
  at: number;
  /** The project the call acted in (null for calls that named none, e.g. a failed login). */
  projectId: string | null;
  actorId: string | null;
  actorName: string | null;
  /** Client address as the server saw it, or `local` for the admin CLI. */
  sourceIp: string;
  method: string;
  /** The route pattern or the request path, without the query string. */
  path: string;
  /** The API operation name, e.g. CreateNotebook, CreateToken. */
  operation: string;
  /** What the call acted on (an instance id, user id, access key), when known. */
  target: string | null;
  statusCode: number;
  /** The error code of a failed call. */
  errorCode: string | null;
  requestId: string;
}

export type NewAuditRecord = Omit<AuditRecord, 'id'>;
