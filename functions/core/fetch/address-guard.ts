import { promises as dns, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * The SSRF guard: only public unicast addresses may be fetched unless private networks are explicitly allowed.
 * ipaddr.js classifies addresses; IPv4-mapped, IPv4-compatible, NAT64 and IPv4-translated IPv6 forms are judged by
 * the IPv4 address inside them, so no spelling of 127.0.0.1 or 169.254.169.254 gets through in IPv6 clothing.
 */

/** The ranges ipaddr.js names that are fine to reach from a crawler. Everything else (loopback, private, link-local
 *  incl. 169.254.169.254, unique-local, CGNAT, multicast, reserved, unspecified, documentation, 6to4, teredo…) is refused. */
const PUBLIC_RANGES = new Set(['unicast']);

export class BlockedAddressError extends Error {
  readonly code = 'BLOCKED_ADDRESS';
  constructor(readonly address: string, readonly range: string) {
    super(`refusing to connect to ${address} (${range} address)`);
    this.name = 'BlockedAddressError';
  }
}

/** The IPv4 address in the last 32 bits of an IPv6 address. */
function embeddedIPv4(v6: ipaddr.IPv6): ipaddr.IPv4 {
  const p = v6.parts;
  return new ipaddr.IPv4([p[6]! >> 8, p[6]! & 0xff, p[7]! >> 8, p[7]! & 0xff]);
}

/** The range an address falls in, unwrapping IPv4 inside IPv6 (`::ffff:127.0.0.1`, `64:ff9b::7f00:1`, `::7f00:1`). */
export function addressRange(address: string): string {
  const parsed = ipaddr.parse(address.replace(/^\[|\]$/g, ''));
  if (parsed.kind() === 'ipv4') return parsed.range();
  const v6 = parsed as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().range();
  const range = v6.range();
  // The well-known NAT64 prefix (64:ff9b::/96) and IPv4-translated addresses (::ffff:0:a.b.c.d) carry an IPv4
  // address a gateway will connect to: judge that address. The local-use NAT64 prefix 64:ff9b:1::/48 can embed an
  // address anywhere, so all of it is refused.
  if (range === 'rfc6145') return embeddedIPv4(v6).range();
  if (range === 'rfc6052') return v6.parts.slice(1, 6).every((p, i) => p === [0xff9b, 0, 0, 0, 0][i]) ? embeddedIPv4(v6).range() : 'nat64LocalUse';
  // The deprecated IPv4-compatible form ::a.b.c.d (first 96 bits zero); ipaddr.js calls all of it "reserved" except
  // :: and ::1, which it already names.
  if (v6.parts.slice(0, 6).every((p) => p === 0) && range !== 'unspecified' && range !== 'loopback') {
    return `ipv4Compatible:${embeddedIPv4(v6).range()}`;
  }
  return range;
}

export function isPublicAddress(address: string): boolean {
  return PUBLIC_RANGES.has(addressRange(address));
}

/** A URL host that is itself an IP literal (no DNS lookup happens for it, so it is checked before connecting). */
export function literalAddress(hostname: string): string | null {
  const bare = hostname.replace(/^\[|\]$/g, '');
  return isIP(bare) ? bare : null;
}

/** `localhost` and its subdomains are loopback whatever DNS says (as browsers treat them), so they are never looked up. */
export function isLocalhostName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

/** How the fetcher reaches the network: name resolution, and which resolved addresses it may connect to. */
export interface NetworkAccess {
  /** Every address of a host name, as `dns.lookup(host, { all: true })` gives them. */
  resolve(hostname: string, family: number): Promise<LookupAddress[]>;
  /** Whether an address may be connected to when private networks are not allowed. */
  isAllowed(address: string): boolean;
}

/** The real network: the system resolver, and public addresses only. */
export const PUBLIC_INTERNET: NetworkAccess = {
  resolve: (hostname, family) => dns.lookup(hostname, { all: true, family }),
  isAllowed: isPublicAddress,
};

/** Throws BLOCKED_ADDRESS for an address the access does not allow. */
export function checkAddress(access: NetworkAccess, address: string): void {
  if (!access.isAllowed(address)) {
    let range = 'non-public';
    try {
      range = addressRange(address);
    } catch {
      // not an IP address at all
    }
    throw new BlockedAddressError(address, range);
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
export type LookupFunction = (hostname: string, options: { all?: boolean; family?: number | string }, callback: LookupCallback) => void;

/**
 * A drop-in for `dns.lookup` to give the HTTP client's sockets. With `guard`, it refuses the whole host if any address
 * it resolves to is not allowed, and hands the socket only addresses it has checked, so the socket connects to exactly
 * what was checked: there is no second lookup that DNS rebinding could change.
 */
export function connectLookup(access: NetworkAccess, guard: boolean): LookupFunction {
  return (hostname, options, callback) => {
    if (guard && isLocalhostName(hostname)) return callback(new BlockedAddressError(hostname, 'loopback'), []);
    access.resolve(hostname, Number(options.family) || 0).then(
      (addresses) => {
        try {
          if (guard) for (const { address } of addresses) checkAddress(access, address);
        } catch (blocked) {
          return callback(blocked as NodeJS.ErrnoException, []);
        }
        if (options.all) return callback(null, addresses);
        const first = addresses[0];
        if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
        callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, []),
    );
  };
}
