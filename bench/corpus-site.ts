/**
 * A loopback site serving the real-page corpus for the throughput bench, in its own process so its CPU is not
 * counted against the engine: `/p/N` is corpus page N mod 178, served after `LATENCY_MS` like a distant server.
 * Prints its base URL on the first line of stdout.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadCorpus } from '../harness/corpus.js';

const latencyMs = Number(process.argv[2] ?? 50);
// `small`: every page is the same 1 KB document, so the network, not parsing, is the limit.
const SMALL = `<!doctype html><html lang="en"><head><title>Small page</title><meta name="description" content="A small page">` +
  `</head><body><h1>Small</h1>${'<p><a href="/p/1">a link</a> and some text around it.</p>'.repeat(16)}</body></html>`;
const pages = process.argv[3] === 'small' ? [{ name: 'small', bytes: Buffer.from(SMALL), contentType: 'text/html; charset=utf-8' }] : loadCorpus();
const server = createServer((req, res) => {
  const n = Number(req.url!.split('/')[2]);
  const page = pages[(Number.isInteger(n) ? n : 0) % pages.length]!;
  setTimeout(() => res.writeHead(200, { 'content-type': page.contentType, 'content-length': page.bytes.length }).end(page.bytes), latencyMs);
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
