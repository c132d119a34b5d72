// Field rules for identity administration: names, passwords, roles. Pure; throws the ModelArts
// validation errors like the notebook rules do.
import { errors } from './errors.ts';
import type { Role } from './identity.ts';
import { expectString } from './validation.ts';

export const ROLES: readonly Role[] = ['admin', 'member', 'viewer'];
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;
export const IDENTITY_DESCRIPTION_MAX = 255;

// IAM: letters, digits, spaces, '-', '_', '.'; we also allow '@' for e-mail style names.
const USER_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9 _.@-]{0,63}$/;
const PROJECT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Ids chosen by an operator (project ids in particular) follow the ModelArts shape: [0-9a-z]. */
const ID_RE = /^[0-9a-z]{8,64}$/;

export function validateUserName(value: unknown, field = 'name'): string {
  const name = expectString(field, value);
  if (!USER_NAME_RE.test(name) || name.trim() !== name) {
    throw errors.incorrectValue(field, 'A user name is 1 to 64 characters: letters, digits, space, _ . @ -, not starting with a space, dot or dash.');
  }
  return name;
}

export function validateProjectName(value: unknown, field = 'name'): string {
  const name = expectString(field, value);
  if (!PROJECT_NAME_RE.test(name)) throw errors.incorrectValue(field, 'A project name is 1 to 64 characters: letters, digits, _ . -, starting with a letter or digit.');
  return name;
}

export function validateId(value: unknown, field: string): string {
  const id = expectString(field, value);
  if (!ID_RE.test(id)) throw errors.incorrectValue(field, 'An id is 8 to 64 characters of [0-9a-z].');
  return id;
}

/** Length only (8..128) and not the user name: longer passphrases beat composition rules. */
export function validatePassword(value: unknown, userName: string, field = 'password'): string {
  const password = expectString(field, value);
  const length = [...password].length;
  if (length < PASSWORD_MIN || length > PASSWORD_MAX) throw errors.incorrectValue(field, `A password is ${PASSWORD_MIN} to ${PASSWORD_MAX} characters.`);
  if (password.toLowerCase() === userName.toLowerCase()) throw errors.incorrectValue(field, 'The password must not be the user name.');
  return password;
}

export function parseRole(value: unknown, field = 'role'): Role {
  const s = expectString(field, value).toLowerCase();
  const role = ROLES.find((r) => r === s);
  if (!role) throw errors.incorrectValue(field, `Allowed values: ${ROLES.join(', ')}.`);
  return role;
}

export function validateIdentityDescription(value: unknown, field = 'description'): string {
  const description = expectString(field, value);
  if (description.length > IDENTITY_DESCRIPTION_MAX) throw errors.incorrectValue(field, `At most ${IDENTITY_DESCRIPTION_MAX} characters.`);
  if (/[<>&"'\\]/.test(description)) throw errors.incorrectValue(field, 'The characters < > & " \' \\ are not allowed.');
  return description;
}
