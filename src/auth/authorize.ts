// Who may do what. Pure: decisions over the caller and the target, no I/O.
//   admin  — every instance of the project
//   member — only their own instances
//   viewer — reads the project's instances, changes nothing
// A system administrator may act in any project.
import { errors } from '../domain/errors.ts';
import type { Caller } from '../domain/identity.ts';
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
