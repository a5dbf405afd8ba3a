import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summarizeUrl } from '../../functions/core/summarize/summarize-url.js';
import { DEFAULT_FETCH_LIMITS, type FetchLimits } from '../../functions/core/fetch/fetch-limits.js';
import { startFaultServer } from '../support/fault-server.js';

// The fault server is on loopback, so the guard is lifted here; the guard's own tests are in address-spellings.test.ts.
const limits: FetchLimits = {
  ...DEFAULT_FETCH_LIMITS,
  allowPrivateNetwork: true,
  timeoutMs: 1_500,
  connectTimeoutMs: 500,
  headersTimeoutMs: 800,
  maxBodyBytes: 1024 * 1024,
  maxRedirects: 5,
};

let faults: Awaited<ReturnType<typeof startFaultServer>>;
let silentTcp: TcpServer;
const sockets = new Set<Socket>();
beforeAll(async () => {
  faults = await startFaultServer();
  // Accepts TCP and then says nothing: a TLS handshake to it never completes.
  silentTcp = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => silentTcp.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => silentTcp.close(resolve));
  await faults.close();
});

type Case = [path: string, code: string | null, transient: boolean, message?: RegExp];
/** Every fault, the terminal code it must end in, and whether the consumer retries it. */
const CASES: Case[] = [
  ['/hang', 'TIMEOUT', true, /no response headers within 800 ms/],
  ['/slow-headers', 'TIMEOUT', true, /no response headers within 800 ms/],
  ['/drip', 'TIMEOUT', true, /within its 1500 ms deadline/],
  ['/reset', 'CONNECTION_RESET', true],
  ['/reset-mid-body', 'CONNECTION_RESET', true],
  ['/close-early', 'CONNECTION_RESET', true],
  ['/huge', 'TOO_LARGE', false, /1048576-byte cap/],
  ['/huge-declared', 'TOO_LARGE', false, /1099511627776 bytes/],
  ['/gzip-bomb', 'TOO_LARGE', false],
  ['/brotli-bomb', 'TOO_LARGE', false],
  ['/deflate-bomb', 'TOO_LARGE', false],
  ['/not-gzip', 'BAD_ENCODING', false],
  ['/redirect-loop', 'TOO_MANY_REDIRECTS', false, /loop/],
  ['/redirect-chain?n=9', 'TOO_MANY_REDIRECTS', false, /more than 5 redirects/],
  ['/redirect-chain?n=4', null, false],
  ['/redirect-to?target=file:///etc/passwd', 'UNSUPPORTED_SCHEME', false],
  ['/redirect-to?target=gopher://127.0.0.1:70/', 'UNSUPPORTED_SCHEME', false],
  ['/redirect-to?target=http://127.0.0.1:25/', 'BLOCKED_PORT', false],
  ['/redirect-bad-location', 'BAD_REDIRECT', false],
  ['/429?after=7', 'HTTP_429', true],
  ['/503', 'HTTP_503', true],
  ['/404', 'HTTP_404', false],
  ['/lying-type-image', 'NOT_HTML', false],
  ['/lying-type-html', null, false],
  ['/lying-length-long', null, false],
  ['/malformed', 'BAD_RESPONSE', false],
  ['/bad-header', 'BAD_RESPONSE', false],
  ['/header-flood', 'BAD_RESPONSE', false],
];

describe('every fault ends in one terminal state with its error code', () => {
  it.each(CASES)('%s → %s', async (path, code, transient, message) => {
    const { summary, retry } = await summarizeUrl(`${faults.url}${path}`, limits);
    if (code === null) {
      expect(summary.ok).toBe(true);
      expect(summary.error).toBeUndefined();
    } else {
      expect(summary.ok).toBe(false);
      expect(summary.error?.code).toBe(code);
      if (message) expect(summary.error?.message).toMatch(message);
    }
    expect(retry !== null).toBe(transient);
  });

  it('hands on the server\'s Retry-After, as milliseconds', async () => {
    const { summary, retry } = await summarizeUrl(`${faults.url}/429?after=7`, limits);
    expect(summary.status).toBe(429);
    expect(retry).toEqual({ afterMs: 7_000 });
  });

  it('keeps what a browser keeps from lying servers', async () => {
    const short = await summarizeUrl(`${faults.url}/lying-length-long`, limits);
    expect(short.summary).toMatchObject({ ok: true, bytes: 20 });
    const png = await summarizeUrl(`${faults.url}/lying-type-html`, limits);
    expect(png.summary).toMatchObject({ ok: true, title: '', contentType: 'text/html' });
  });

  it('gives up on a connection that never finishes its TLS handshake at the connect timeout', async () => {
    const { port } = silentTcp.address() as AddressInfo;
    const { summary, retry } = await summarizeUrl(`https://127.0.0.1:${port}/`, limits);
    expect(summary.error).toEqual({ code: 'TIMEOUT', message: 'could not connect within 500 ms' });
    expect(retry).toEqual({});
  });
});
