/**
 * A loopback site serving the real-page corpus for the throughput bench, in its own process so its CPU is not
 * counted against the engine: `/p/N` is corpus page N mod 178, served after `LATENCY_MS` like a distant server.
 * Prints its base URL on the first line of stdout.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadCorpus } from '../test/support/corpus.js';

const latencyMs = Number(process.argv[2] ?? 50);
const pages = loadCorpus();
const server = createServer((req, res) => {
  const n = Number(req.url!.split('/')[2]);
  const page = pages[(Number.isInteger(n) ? n : 0) % pages.length]!;
  setTimeout(() => res.writeHead(200, { 'content-type': page.contentType, 'content-length': page.bytes.length }).end(page.bytes), latencyMs);
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
