// Who is connecting, for the allow-lists: the socket's peer, or, when the operator says notebookd
// sits behind proxies, the address those proxies report. Headers are trusted only from peers in
// trustedProxies, so a client cannot claim an address by sending the header itself.
import { BlockList, isIP } from 'node:net';

export type ClientIpHeader = 'none' | 'x-forwarded-for' | 'x-real-ip' | 'forwarded';

export interface ClientAddressSettings {
  /** Which header carries the client address (default none: the socket peer is the client). */
  clientIpHeader: ClientIpHeader;
  /** Addresses or CIDR blocks of the proxies whose header is believed. */
  trustedProxies: readonly string[];
}

/** ::ffff:1.2.3.4 → 1.2.3.4, so IPv4 rules match clients of a dual-stack listener. */
export function normalizeAddress(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower;
}

/** A matcher for addresses and CIDR blocks; empty means "everyone". */
export interface AddressMatcher {
  readonly any: boolean;
  matches(address: string): boolean;
}

export function addressMatcher(entries: readonly string[]): AddressMatcher {
  if (entries.length === 0) return { any: true, matches: () => true };
  const list = new BlockList();
  for (const entry of entries) {
    const [addr, prefix] = entry.split('/') as [string, string | undefined];
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    const normalized = normalizeAddress(addr);
    const fam = isIP(normalized) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(normalized, fam);
    else list.addSubnet(normalized, Number(prefix) - (family === 'ipv6' && fam === 'ipv4' ? 96 : 0), fam);
  }
  return {
    any: false,
    matches(address) {
      const a = normalizeAddress(address);
      const fam = isIP(a);
      return fam !== 0 && list.check(a, fam === 6 ? 'ipv6' : 'ipv4');
    },
  };
}

function headerAddresses(header: ClientIpHeader, value: string): string[] {
  switch (header) {
    case 'x-forwarded-for':
      return value.split(',').map((s) => s.trim());
    case 'x-real-ip':
      return [value.trim()];
    case 'forwarded':
      // for=1.2.3.4, for="[2001:db8::1]:4711"
      return [...value.matchAll(/for=("?)\[?([^\]";,]+)\]?(?::\d+)?\1/gi)].map((m) => m[2]!.trim());
    default:
      return [];
  }
}

export function createClientAddressResolver(settings: ClientAddressSettings) {
  const trusted = addressMatcher(settings.trustedProxies);
  const header = settings.clientIpHeader;
  const useHeader = header !== 'none' && settings.trustedProxies.length > 0;
  return function clientAddress(peer: string | undefined, headers: Record<string, string | string[] | undefined>): string {
    const socketAddress = normalizeAddress(peer ?? '');
    if (!useHeader || !trusted.matches(socketAddress)) return socketAddress;
    const raw = headers[header];
    const value = Array.isArray(raw) ? raw.join(',') : raw;
    if (!value) return socketAddress;
    // Walk from the nearest hop back: the first address that is not one of our proxies is the client.
    const hops = headerAddresses(header, value).filter((a) => isIP(normalizeAddress(a)) !== 0);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalizeAddress(hops[i]!);
      if (!trusted.matches(hop)) return hop;
    }
    return hops.length > 0 ? normalizeAddress(hops[0]!) : socketAddress;
  };
}

export type ClientAddressResolver = ReturnType<typeof createClientAddressResolver>;
