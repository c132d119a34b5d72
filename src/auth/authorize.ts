// Who may do what. Pure: decisions over the caller and the target, no I/O.
//   admin  — every instance of the project
//   member — only their own instances
//   viewer — reads the project's instances, changes nothing
// A system administrator may act in any project.
import { errors } from '../domain/errors.ts';
import type { Caller, User } from '../domain/identity.ts';
import type { Notebook } from '../domain/notebook.ts';

export type Access = 'read' | 'write';

/** The {project_id} in the path must be the caller's own project (or any, for a system admin). */
export function checkProject(caller: Caller, projectId: string): void {
  if (caller.projectId !== projectId && !caller.user.systemAdmin) throw errors.projectMismatch();
}

export function authorizeNotebook(caller: Caller, nb: Pick<Notebook, 'owner' | 'projectId'>, access: Access, operation: string): void {
  const { user } = caller;
  if (user.systemAdmin) return;
  if (nb.projectId !== caller.projectId) throw errors.notAuthorized(operation);
  if (access === 'write' && user.role === 'viewer') throw errors.notAuthorized(operation);
  if (user.role === 'member' && nb.owner.id !== user.id) throw errors.notAuthorized(operation);
}

/** Creating instances, registering images: anyone but a viewer. */
export function authorizeProjectWrite(caller: Caller, operation: string): void {
  if (!caller.user.systemAdmin && caller.user.role === 'viewer') throw errors.notAuthorized(operation);
}

/** Whether the caller sees the whole project (ListAllNotebooks) rather than only their own. */
export const seesWholeProject = (caller: Caller): boolean => caller.user.systemAdmin || caller.user.role !== 'member';

/** Managing projects, project quotas and system administrators: system administrators only. */
export function authorizeSystemAdmin(caller: Caller, operation: string): void {
  if (!caller.user.systemAdmin) throw errors.notAuthorized(operation);
}

/** Administering one project (its users, roles, per-user quotas, audit trail): its admins and system admins. */
export function authorizeProjectAdmin(caller: Caller, projectId: string, operation: string): void {
  if (caller.user.systemAdmin) return;
  checkProject(caller, projectId);
  if (caller.user.role !== 'admin') throw errors.notAuthorized(operation);
}

/**
 * Whether `target`'s account is visible to the caller at all: system admins see everyone, project
 * admins their project, everyone else only themselves. Invisible accounts answer 404, not 403, so
 * user ids cannot be probed across projects.
 */
export function canSeeUser(caller: Caller, target: Pick<User, 'id' | 'projectId'>): boolean {
  const { user } = caller;
  return user.systemAdmin || user.id === target.id || (user.role === 'admin' && caller.projectId === target.projectId);
}

/**
 * Acting on an account (its credentials, tokens, password): the user, their project's admins, or a
 * system admin. A project admin cannot act on a system administrator's account.
 */
export function authorizeUserAccount(caller: Caller, target: Pick<User, 'id' | 'projectId' | 'systemAdmin'>, operation: string): void {
  const { user } = caller;
  if (user.systemAdmin || user.id === target.id) return;
  if (user.role === 'admin' && caller.projectId === target.projectId && !target.systemAdmin) return;
  throw errors.notAuthorized(operation);
}
