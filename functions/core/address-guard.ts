import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * The SSRF guard: only public unicast addresses may be fetched unless private networks are explicitly allowed.
 * ipaddr.js classifies addresses; IPv4-mapped and NAT64 IPv6 forms are judged by the IPv4 address inside them.
 */

/** The ranges ipaddr.js names that are fine to reach from a crawler. Everything else (loopback, private, link-local
 *  incl. 169.254.169.254, unique-local, CGNAT, multicast, reserved, unspecified, documentation…) is refused. */
const PUBLIC_RANGES = new Set(['unicast']);

export class BlockedAddressError extends Error {
  readonly code = 'BLOCKED_ADDRESS';
  constructor(readonly address: string, readonly range: string) {
    super(`refusing to connect to ${address} (${range} address)`);
    this.name = 'BlockedAddressError';
  }
}

/** The range an address falls in, unwrapping IPv4 inside IPv6 (`::ffff:127.0.0.1`, `64:ff9b::7f00:1`). */
export function addressRange(address: string): string {
  const parsed = ipaddr.parse(address.replace(/^\[|\]$/g, ''));
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().range();
    const range = v6.range();
    if (range === 'rfc6052' || range === 'rfc6145') {
      // NAT64 (64:ff9b::/96) and IPv4-translated: the last 32 bits are an IPv4 address.
      const parts = v6.parts;
      const v4 = new ipaddr.IPv4([parts[6]! >> 8, parts[6]! & 0xff, parts[7]! >> 8, parts[7]! & 0xff]);
      return v4.range();
    }
    return range;
  }
  return parsed.range();
}

export function isPublicAddress(address: string): boolean {
  return PUBLIC_RANGES.has(addressRange(address));
}

export function assertPublicAddress(address: string): void {
  const range = addressRange(address);
  if (!PUBLIC_RANGES.has(range)) throw new BlockedAddressError(address, range);
}

/** A URL host that is itself an IP literal (no DNS lookup happens for it, so it is checked before connecting). */
export function literalAddress(hostname: string): string | null {
  const bare = hostname.replace(/^\[|\]$/g, '');
  return isIP(bare) ? bare : null;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A drop-in for `dns.lookup` to give the HTTP client: it resolves, refuses the whole host if any address it resolves
 * to is not public, and hands the client only addresses it has checked, so the socket connects to exactly what was
 * checked (no second lookup that DNS rebinding could change).
 */
export function guardedLookup(hostname: string, options: { all?: boolean; family?: number | string }, callback: LookupCallback): void {
  dnsLookup(hostname, { all: true, family: Number(options.family) || 0 }, (err, addresses) => {
    if (err) return callback(err, []);
    try {
      for (const { address } of addresses) assertPublicAddress(address);
    } catch (blocked) {
      return callback(blocked as NodeJS.ErrnoException, []);
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0];
    if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
    callback(null, first.address, first.family);
  });
}
