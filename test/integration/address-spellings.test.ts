import type { LookupAddress } from 'node:dns';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPublicAddress, PUBLIC_INTERNET, type NetworkAccess } from '../../functions/core/fetch/address-guard.js';
import { summarizeUrl } from '../../functions/core/summarize/summarize-url.js';
import { DEFAULT_FETCH_LIMITS, type FetchLimits } from '../../functions/core/fetch/fetch-limits.js';
import { startLoopbackServer, type LoopbackServer } from '../../harness/loopback-server.js';

/**
 * The SSRF guard on real sockets. `target` listens on 127.0.0.1 and `sentinel` on 127.0.0.2; both count every TCP
 * connection, so "refused without sending a packet" is checked, not assumed.
 */
const guarded: FetchLimits = { ...DEFAULT_FETCH_LIMITS, timeoutMs: 2_000 };
const open: FetchLimits = { ...guarded, allowPrivateNetwork: true };

let target: LoopbackServer;
let sentinel: LoopbackServer;
let connections = { target: 0, sentinel: 0 };
let port: number;
let sentinelPort: number;

beforeAll(async () => {
  target = await startLoopbackServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<title>reached</title>'));
  sentinel = await startLoopbackServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<title>sentinel</title>'));
  await new Promise<void>((resolve) => sentinel.server.close(() => sentinel.server.listen(0, '127.0.0.2', resolve)));
  target.server.on('connection', () => connections.target++);
  sentinel.server.on('connection', () => connections.sentinel++);
  port = (target.server.address() as AddressInfo).port;
  sentinelPort = (sentinel.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await target.close();
  await sentinel.close();
});

/** Every spelling of 127.0.0.1 the WHATWG URL parser turns into 127.0.0.1. */
const LOOPBACK_V4 = [
  '127.0.0.1', '127.1', '127.0.1', '2130706433', '0x7f000001', '0x7f.0.0.1', '0x7F.1', '0177.0.0.1', '0177.0.0.01',
  '017700000001', '127.000.000.001', '127.0.0.0x1', '0x00007f.0x0.0x0.0x1', '127.0.0.1.', '%31%32%37.0.0.1',
  '１２７.０.０.１', '127。0。0。1',
];
/** Other loopback spellings: IPv6 forms that embed it, and localhost names. */
const LOOPBACK_OTHER = [
  '[::1]', '[0:0:0:0:0:0:0:1]', '[0000::1]', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '[0:0:0:0:0:ffff:127.0.0.1]',
  '[::127.0.0.1]', '[64:ff9b::127.0.0.1]', '[::ffff:0:127.0.0.1]', 'localhost', 'LOCALHOST', 'localhost.', 'LocalHost.', 'foo.localhost',
];
/** The metadata address and the private and special ranges, in several spellings each. */
const NON_PUBLIC = [
  '169.254.169.254', '0xa9fea9fe', '2852039166', '0251.0376.0251.0376', '169.254.43518', '[::ffff:169.254.169.254]',
  '[::ffff:a9fe:a9fe]', '[64:ff9b::a9fe:a9fe]', '[fd00:ec2::254]', '10.0.0.1', '0xa.1', '167772161', '172.16.0.1',
  '192.168.0.1', '100.64.0.1', '0.0.0.0', '0', '[::]', '[fe80::1]', '[fc00::1]', '224.0.0.1', '255.255.255.255',
  '198.18.0.1', '192.0.0.1', '240.0.0.1', '[2002:7f00:1::]', '[2001::1]', '[64:ff9b:1::a9fe:a9fe]', '[ff02::1]',
];

describe('every spelling of a non-public address is refused, without a packet', () => {
  it('the IPv4 spellings really are 127.0.0.1 to the URL parser', () => {
    for (const host of LOOPBACK_V4) expect([host, new URL(`http://${host}:${port}/`).hostname]).toEqual([host, '127.0.0.1']);
  });

  it.each([...LOOPBACK_V4, ...LOOPBACK_OTHER, ...NON_PUBLIC])('refuses http://%s', async (host) => {
    const before = { ...connections };
    const { summary, retry } = await summarizeUrl(`http://${host}:${port}/`, guarded);
    expect(summary.error?.code).toBe('BLOCKED_ADDRESS');
    expect(summary.status).toBeNull();
    expect(retry).toBeNull();
    expect(connections).toEqual(before);
  });

  it.each([...LOOPBACK_V4, 'localhost', '[::ffff:127.0.0.1]'])('reaches http://%s when private networks are allowed', async (host) => {
    const { summary } = await summarizeUrl(`http://${host}:${port}/`, open);
    expect(summary).toMatchObject({ ok: true, title: 'reached' });
  });
});

/**
 * A test network where `public.test` resolves to 127.0.0.1 and that one address counts as public: a stand-in for a
 * public site, so that what a public site can do (redirect inward, rebind its DNS) can be tried on loopback.
 */
function testNetwork(answers: Record<string, () => LookupAddress[]>): NetworkAccess & { lookups: string[] } {
  const lookups: string[] = [];
  return {
    lookups,
    resolve: async (hostname) => {
      lookups.push(hostname);
      const answer = answers[hostname];
      if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      return answer();
    },
    isAllowed: (address) => address === '127.0.0.1' || isPublicAddress(address),
  };
}
const v4 = (address: string): LookupAddress => ({ address, family: 4 });

describe('every hop is checked on the address it connects to', () => {
  it('fetches the stand-in public site (so the refusals below are the guard\'s doing)', async () => {
    const net = testNetwork({ 'public.test': () => [v4('127.0.0.1')] });
    const { summary } = await summarizeUrl(`http://public.test:${port}/`, guarded, net);
    expect(summary).toMatchObject({ ok: true, title: 'reached' });
  });

  it.each([
    (p: number) => `http://127.0.0.2:${p}/`,
    (p: number) => `http://0x7f.0.0.2:${p}/`,
    (p: number) => `http://2130706434:${p}/`,
    (p: number) => `http://[::ffff:127.0.0.2]:${p}/`,
    (p: number) => `http://localhost:${p}/`,
    (p: number) => `http://inward.test:${p}/`,
    () => 'http://169.254.169.254/latest/meta-data/',
  ])('refuses a redirect from a public site to %s', async (to) => {
    const net = testNetwork({ 'public.test': () => [v4('127.0.0.1')], 'inward.test': () => [v4('127.0.0.2')] });
    const before = connections.sentinel;
    const site = await startRedirector(to(sentinelPort));
    try {
      const { summary } = await summarizeUrl(`http://public.test:${site.port}/`, guarded, net);
      expect(summary.error?.code, to(sentinelPort)).toBe('BLOCKED_ADDRESS');
      expect(summary.finalUrl).toBe(new URL(to(sentinelPort)).href);
      expect(connections.sentinel).toBe(before);
    } finally {
      await site.close();
    }
  });

  it('refuses a host if any of its addresses is private, even when a public one comes first', async () => {
    const net = testNetwork({ 'mixed.test': () => [v4('127.0.0.1'), v4('127.0.0.2')] });
    const before = { ...connections };
    const { summary } = await summarizeUrl(`http://mixed.test:${port}/`, guarded, net);
    expect(summary.error?.code).toBe('BLOCKED_ADDRESS');
    expect(connections).toEqual(before);
  });

  it('connects to the address it checked: a name that rebinds to a private address is refused on its next lookup', async () => {
    let calls = 0;
    const net = testNetwork({ 'rebind.test': () => [v4(calls++ === 0 ? '127.0.0.1' : '127.0.0.2')] });
    const first = await summarizeUrl(`http://rebind.test:${port}/first`, { ...guarded }, net);
    expect(first.summary).toMatchObject({ ok: true, title: 'reached' });
    // A fresh connection (a different port, so no pooled socket) makes a fresh lookup, which now says 127.0.0.2.
    const before = connections.sentinel;
    const second = await summarizeUrl(`http://rebind.test:${sentinelPort}/second`, guarded, net);
    expect(second.summary.error?.code).toBe('BLOCKED_ADDRESS');
    expect(connections.sentinel).toBe(before);
    // One lookup per connection: the socket never resolves the name a second time behind the guard's back.
    expect(net.lookups).toEqual(['rebind.test', 'rebind.test']);
  });

  it('tells a DNS server failure (retried) from a name that does not exist (not retried)', async () => {
    const servfail: NetworkAccess = {
      ...PUBLIC_INTERNET,
      resolve: async () => {
        throw Object.assign(new Error('getaddrinfo EAI_AGAIN flaky.test'), { code: 'EAI_AGAIN' });
      },
    };
    const failed = await summarizeUrl('http://flaky.test/', guarded, servfail);
    expect(failed.summary.error).toEqual({ code: 'DNS', message: 'the DNS lookup of flaky.test failed' });
    expect(failed.retry).toEqual({});
    const missing = await summarizeUrl('http://missing.test/', guarded, testNetwork({}));
    expect(missing.summary.error).toEqual({ code: 'DNS', message: 'missing.test does not resolve' });
    expect(missing.retry).toBeNull();
  });
});

/** A one-off server on 127.0.0.1 that redirects every request to `location`. */
async function startRedirector(location: string): Promise<{ port: number; close(): Promise<void> }> {
  const server = await startLoopbackServer((_req, res) => res.writeHead(302, { location }).end());
  return { port: (server.server.address() as AddressInfo).port, close: () => server.close() };
}
