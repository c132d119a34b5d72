// Field rules of CreateNotebook/UpdateNotebook (reference §1.1, §1.3, seed UpdateNotebook).
// Input arrives as unknown JSON; these functions either return the normalised value or throw
// the documented ModelArts error. Enum inputs are accepted in any case and normalised to upper.
import { isIP } from 'node:net';
import { errors } from './errors.ts';
import type { EndpointSpec, HookSpec, HooksSpec, ServiceKind, Tag } from './notebook.ts';

export const NAME_MAX = 128;
export const DESCRIPTION_MAX = 512;
export const MAX_ALLOWED_IPS = 5;
export const EVS_MIN_GB = 5;
export const EVS_MAX_GB = 4096;
export const EVS_DEFAULT_GB = 5;
export const EFS_DEFAULT_GB = 50;

const NAME_RE = /^[A-Za-z0-9_-]+$/;
const DESCRIPTION_FORBIDDEN = ['&', '<', '>', '"', "'", '/'];
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function expectString(field: string, value: unknown): string {
  if (typeof value !== 'string') throw errors.wrongType(field, 'string');
  return value;
}

export function expectInteger(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw errors.wrongType(field, 'integer');
  return value;
}

export function expectObject(field: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw errors.wrongType(field, 'object');
  return value as Record<string, unknown>;
}

export function expectArray(field: string, value: unknown): unknown[] {
  if (!Array.isArray(value)) throw errors.wrongType(field, 'array');
  return value;
}

/** Case-insensitive enum: returns the canonical (upper-case) member or throws 6336. */
export function expectEnum<T extends string>(field: string, value: unknown, members: readonly T[]): T {
  const s = expectString(field, value).toUpperCase();
  const found = members.find((m) => m === s);
  if (!found) throw errors.incorrectValue(field, `Allowed values: ${members.join(', ')}.`);
  return found;
}

export function validateName(value: unknown): string {
  const name = expectString('name', value);
  if (name.length === 0 || name.length > NAME_MAX) throw errors.incorrectValue('name', `The name must be 1 to ${NAME_MAX} characters.`);
  if (!NAME_RE.test(name)) {
    const bad = [...name].find((c) => !/[A-Za-z0-9_-]/.test(c)) ?? '?';
    throw errors.forbiddenCharacter(bad);
  }
  return name;
}

export function validateDescription(value: unknown): string {
  const description = expectString('description', value);
  if (description.length > DESCRIPTION_MAX) {
    throw errors.incorrectValue('description', `The description may have at most ${DESCRIPTION_MAX} characters.`);
  }
  const bad = DESCRIPTION_FORBIDDEN.find((c) => description.includes(c));
  if (bad) throw errors.forbiddenCharacter(bad);
  return description;
}

/** An address or a CIDR block (v4 or v6). Loopback and private ranges are allowed: notebookd is self-hosted. */
export function isAddressOrCidr(value: string): boolean {
  const [addr, prefix, ...rest] = value.split('/');
  if (rest.length > 0 || !addr) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

const KEY_PAIR_NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

export function validateEndpoints(value: unknown): EndpointSpec[] {
  const list = expectArray('endpoints', value);
  if (list.length > 2) throw errors.incorrectValue('endpoints', 'At most one NOTEBOOK and one SSH endpoint.');
  const seen = new Set<ServiceKind>();
  return list.map((raw, i) => {
    const field = `endpoints[${i}]`;
    const obj = expectObject(field, raw);
    const service = expectEnum(`${field}.service`, obj.service ?? obj.dev_service ?? 'NOTEBOOK', ['NOTEBOOK', 'SSH'] as const);
    if (seen.has(service)) throw errors.incorrectValue('endpoints', `The ${service} endpoint is listed twice.`);
    seen.add(service);
    const ips = obj.allowed_access_ips === undefined || obj.allowed_access_ips === null ? [] : expectArray(`${field}.allowed_access_ips`, obj.allowed_access_ips);
    if (ips.length > MAX_ALLOWED_IPS) {
      throw errors.incorrectValue(`${field}.allowed_access_ips`, `At most ${MAX_ALLOWED_IPS} addresses are allowed.`);
    }
    const allowedAccessIps = ips.map((ip, j) => {
      const s = expectString(`${field}.allowed_access_ips[${j}]`, ip).trim();
      if (!isAddressOrCidr(s)) throw errors.incorrectValue(`${field}.allowed_access_ips[${j}]`, `'${s}' is not an IP address or CIDR block.`);
      return s;
    });
    const names = obj.key_pair_names === undefined || obj.key_pair_names === null ? [] : expectArray(`${field}.key_pair_names`, obj.key_pair_names);
    const keyPairNames = names.map((n, j) => {
      const s = expectString(`${field}.key_pair_names[${j}]`, n);
      if (!KEY_PAIR_NAME_RE.test(s)) throw errors.incorrectValue(`${field}.key_pair_names[${j}]`, 'Key pair names are 1-64 of [A-Za-z0-9_.-].');
      return s;
    });
    if (new Set(allowedAccessIps).size !== allowedAccessIps.length) {
      throw errors.incorrectValue(`${field}.allowed_access_ips`, 'Addresses must not repeat.');
    }
    return { service, keyPairNames, allowedAccessIps };
  });
}

function validateHook(field: string, value: unknown): HookSpec | undefined {
  if (value === undefined || value === null) return undefined;
  const obj = expectObject(field, value);
  const type = obj.type === undefined ? 'SCRIPT' : expectEnum(`${field}.type`, obj.type, ['COMMAND', 'SCRIPT'] as const);
  const mode = obj.mode === undefined ? 'ASYNC' : expectEnum(`${field}.mode`, obj.mode, ['BLOCK', 'ASYNC'] as const);
  if (obj.script === undefined) throw errors.required(`${field}.script`);
  const script = expectString(`${field}.script`, obj.script);
  if (type === 'COMMAND') {
    if (script.length === 0 || script.length > 65536 || !BASE64_RE.test(script)) {
      throw errors.incorrectValue(`${field}.script`, 'A COMMAND hook must be base64-encoded script content (at most 64 KiB).');
    }
  } else if (!script.startsWith('/') || script.length > 1024 || script.includes('\0') || script.split('/').includes('..')) {
    throw errors.incorrectValue(`${field}.script`, 'A SCRIPT hook must be an absolute path without "..".');
  }
  return { script, type, mode };
}

export function validateHooks(value: unknown): HooksSpec | null {
  if (value === null) return null;
  const obj = expectObject('hooks', value);
  if (obj.container_hooks === undefined || obj.container_hooks === null) return null;
  const container = expectObject('hooks.container_hooks', obj.container_hooks);
  const preStart = validateHook('hooks.container_hooks.pre_start', container.pre_start);
  const postStart = validateHook('hooks.container_hooks.post_start', container.post_start);
  if (!preStart && !postStart) return null;
  return { ...(preStart && { preStart }), ...(postStart && { postStart }) };
}

export function validateCapacity(field: string, value: unknown, maxGb = EVS_MAX_GB): number {
  const gb = expectInteger(field, value);
  if (gb < EVS_MIN_GB || gb > maxGb) throw errors.volumeSize(EVS_MIN_GB, maxGb);
  return gb;
}

const TAG_KEY_RE = /^[^=,|]{1,128}$/;

export function validateTags(value: unknown): Tag[] {
  const list = expectArray('tags', value);
  if (list.length > 20) throw errors.incorrectValue('tags', 'At most 20 tags.');
  return list.map((raw, i) => {
    const obj = expectObject(`tags[${i}]`, raw);
    const key = expectString(`tags[${i}].key`, obj.key);
    const tagValue = obj.value === undefined ? '' : expectString(`tags[${i}].value`, obj.value);
    if (!TAG_KEY_RE.test(key) || key.startsWith('_sys_')) {
      throw errors.incorrectValue(`tags[${i}].key`, 'A tag key is 1-128 characters without = , | and must not start with _sys_.');
    }
    if (tagValue.length > 255) throw errors.incorrectValue(`tags[${i}].value`, 'A tag value has at most 255 characters.');
    return { key, value: tagValue };
  });
}
