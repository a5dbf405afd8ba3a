import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../functions/adapters/dynamodb/index.js';
import { DynamoRobotsStore, MAX_STORED_RECORD_BYTES } from '../../functions/adapters/dynamodb/robots-cache.js';
import { isPublicAddress, type NetworkAccess } from '../../functions/core/fetch/address-guard.js';
import { DEFAULT_FETCH_LIMITS } from '../../functions/core/fetch/fetch-limits.js';
import { fetchRobotsTxt } from '../../functions/core/fetch/robots-fetch.js';
import { ROBOTS_TXT_PARSE_LIMIT_BYTES } from '../../functions/core/fetch/robots-rules.js';
import { robotsDecision, knownRobots, robotsRecordFor } from '../../functions/core/polite/robots-gate.js';
import { RobotsSource } from '../../functions/core/polite/robots-source.js';
import { startLoopbackServer, type LoopbackServer } from '../../harness/loopback-server.js';
import { startEngines, type Engines } from '../support/engines.js';

const TOKEN = 'serverless-crawler';
let engines: Engines;
let store: DynamoRobotsStore;
let server: LoopbackServer;
let bytesSent = 0;

beforeAll(async () => {
  engines = await startEngines();
  store = new DynamoRobotsStore({ db: createDocumentClient(engines.dynamodb), name: engines.resources.tableName });
  server = await startLoopbackServer((req, res) => {
    if (req.url === '/robots.txt' && !req.headers.host?.startsWith('redirecting.test')) {
      // 100 MB, streamed: a reader that stops at the parse limit never makes the server write it all.
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('User-agent: *\n');
      const line = Buffer.from('Disallow: /private/\n'.padEnd(100, '#'));
      let sent = 0;
      const pump = () => {
        while (sent < 100 * 1024 * 1024) {
          sent += line.length;
          bytesSent += line.length;
          if (!res.write(line)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', () => (sent = Infinity));
      return pump();
    }
    // As "redirecting.test": a robots.txt that redirects to the cloud metadata address.
    res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
  });
});
afterAll(async () => {
  await server?.close();
  await engines?.stop();
});

describe('robots.txt fetch and cache, hostile input', () => {
  it('reads a 100 MB robots.txt only up to the parse limit (and knows it was cut)', async () => {
    const started = Date.now();
    const outcome = await fetchRobotsTxt(server.url, { ...DEFAULT_FETCH_LIMITS, allowPrivateNetwork: true });
    expect(outcome.kind).toBe('response');
    if (outcome.kind !== 'response') return;
    expect(outcome.body.length).toBe(ROBOTS_TXT_PARSE_LIMIT_BYTES + 1);
    const record = robotsRecordFor(server.url, outcome, TOKEN, Date.now());
    expect(record.rules.truncated).toBe(true);
    expect(robotsDecision(knownRobots(record), `${server.url}/private/x`, 30)).toMatchObject({ kind: 'fail', error: { code: 'ROBOTS_DISALLOWED' } });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(bytesSent).toBeLessThan(20 * 1024 * 1024);
  });

  it('refuses a robots.txt that redirects to a private address, and fails its URLs ROBOTS_UNREACHABLE for good', async () => {
    // The guard is on; the test site's own address stands for a public one, the metadata address is what it is.
    const port = new URL(server.url).port;
    const origin = `http://redirecting.test:${port}`;
    const network: NetworkAccess = {
      resolve: async () => [{ address: '127.0.0.1', family: 4 }],
      isAllowed: (address) => address === '127.0.0.1' || isPublicAddress(address),
    };
    const outcome = await fetchRobotsTxt(origin, { ...DEFAULT_FETCH_LIMITS, allowPrivateNetwork: false }, network);
    expect(outcome).toMatchObject({ kind: 'failed', code: 'BLOCKED_ADDRESS', transient: false, finalUrl: 'http://169.254.169.254/latest/meta-data/' });
    const decision = robotsDecision(knownRobots(robotsRecordFor(origin, outcome, TOKEN, Date.now())), `${origin}/a`, 30);
    expect(decision).toMatchObject({ kind: 'fail', error: { code: 'ROBOTS_UNREACHABLE' }, transient: false });
    expect(decision.kind === 'fail' && decision.error.message).toMatch(/169\.254\.169\.254/);
  });
});

describe('the robots.txt cache on DynamoDB Local', () => {
  const record = (origin: string, body: string) =>
    robotsRecordFor(origin, { kind: 'response', status: 200, body: new TextEncoder().encode(body), finalUrl: `${origin}/robots.txt` }, TOKEN, Date.now());

  it('gives the lease to one fetcher at a time, and the record to everyone until it expires', async () => {
    const origin = 'https://lease.example';
    const now = Date.now();
    expect(await store.lease(origin, 'a', now + 10_000, now)).toEqual({ taken: true });
    expect(await store.lease(origin, 'b', now + 10_000, now)).toMatchObject({ taken: false, record: null, leasedUntil: now + 10_000 });
    // A lease that ran out can be taken over.
    expect(await store.lease(origin, 'b', now + 20_000, now + 10_001)).toEqual({ taken: true });
    expect(await store.put(record(origin, 'User-agent: *\nDisallow: /x'))).toBe('shared');
    const stored = await store.get(origin, Date.now());
    expect(stored.leasedUntil).toBe(0);
    expect(stored.record?.rules.rules).toEqual([{ allow: false, pattern: '/x' }]);
    // No lease while the record is valid; after its 24 h, the lease again.
    expect(await store.lease(origin, 'c', Date.now() + 10_000, Date.now())).toMatchObject({ taken: false, record: { origin } });
    expect(await store.lease(origin, 'c', Date.now() + 10_000, Date.now() + 25 * 3600 * 1000)).toEqual({ taken: true });
  });

  it('marks a record too large for an item unshared (each consumer keeps its own) rather than fail', async () => {
    const origin = 'https://huge.example';
    // 500 KiB of long random paths (80 characters a path may hold as they are): they do not compress under 350 KB.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&()*+,;=:@/';
    const lines: string[] = ['User-agent: *'];
    for (let size = 0; size < ROBOTS_TXT_PARSE_LIMIT_BYTES - 1_000; ) {
      const line = `Disallow: /${[...randomBytes(500)].map((b) => alphabet[b % alphabet.length]).join('')}`;
      lines.push(line);
      size += line.length + 1;
    }
    const big = record(origin, lines.join('\n'));
    expect(await store.put(big)).toBe('unshared');
    expect(await store.get(origin, Date.now())).toMatchObject({ record: null, unsharedUntil: big.validUntil });
    expect(MAX_STORED_RECORD_BYTES).toBeLessThan(400_000);

    // The source then fetches it itself, once, and keeps it for the record's whole validity.
    let fetches = 0;
    const source = new RobotsSource({
      store,
      fetch: async () => {
        fetches++;
        return { kind: 'response', status: 200, body: new TextEncoder().encode(lines.join('\n')), finalUrl: `${origin}/robots.txt` };
      },
      userAgentToken: TOKEN,
      leaseMs: 10_000,
    });
    const turn = async () => ({ kind: 'go' as const });
    for (let i = 0; i < 3; i++) expect(await source.lookup(origin, turn)).toMatchObject({ kind: 'known' });
    expect(fetches).toBe(1);
  });

  it('shares one fetch between two consumers (two sources, separate memos) asking at once', async () => {
    const origin = 'https://shared.example';
    let fetches = 0;
    const consumer = () =>
      new RobotsSource({
        store,
        fetch: async () => {
          fetches++;
          await new Promise((resolve) => setTimeout(resolve, 300));
          return { kind: 'response', status: 200, body: new TextEncoder().encode('User-agent: *\nDisallow: /p'), finalUrl: `${origin}/robots.txt` };
        },
        userAgentToken: TOKEN,
        leaseMs: 10_000,
      });
    const turn = async () => ({ kind: 'go' as const });
    const [a, b] = await Promise.all([consumer().lookup(origin, turn), consumer().lookup(origin, turn)]);
    expect([a.kind, b.kind]).toEqual(['known', 'known']);
    expect(fetches).toBe(1);
  });
});
