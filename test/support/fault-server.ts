import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { startLoopbackServer, type LoopbackServer } from '../../harness/loopback-server.js';

/**
 * A loopback server that misbehaves in every way a real site can, one path each. `hits` counts requests per path (and
 * per `key` query parameter), so tests can check how often the crawler came back.
 */
export const HTML = '<!doctype html><html lang="en"><head><title>Fine</title></head><body><h1>ok</h1></body></html>';

const BOMB_BYTES = 32 * 1024 * 1024;
let bombs: { gzip: Buffer; br: Buffer; deflate: Buffer } | undefined;
/** 32 MB of spaces, compressed: about 32 KB of gzip or deflate and a few hundred bytes of brotli on the wire. */
function compressedBombs() {
  if (!bombs) {
    const inflated = Buffer.alloc(BOMB_BYTES, 0x20);
    bombs = { gzip: gzipSync(inflated, { level: 9 }), br: brotliCompressSync(inflated), deflate: deflateSync(inflated, { level: 9 }) };
  }
  return bombs;
}

export async function startFaultServer(): Promise<LoopbackServer & { hits: Map<string, number>; timers: Set<NodeJS.Timeout> }> {
  // Made before listening: compressing takes a moment, which must not stall requests in flight.
  compressedBombs();
  const hits = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  const server = await startLoopbackServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const key = `${url.pathname}${url.searchParams.has('key') ? `?key=${url.searchParams.get('key')}` : ''}`;
    const hit = (hits.get(key) ?? 0) + 1;
    hits.set(key, hit);
    const html = (status = 200, headers: Record<string, string> = {}) => res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers }).end(HTML);
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      timers.add(t);
      res.on('close', () => {
        clearInterval(t);
        timers.delete(t);
      });
    };
    switch (url.pathname) {
      case '/ok':
        return html();
      case '/hang':
        return; // accepts the connection, reads the request, never answers
      case '/slow-headers':
        return void setTimeout(() => !res.destroyed && html(), 3_000);
      case '/drip':
        // Headers at once, then one byte every 50 ms for ever: only the total deadline stops it.
        res.writeHead(200, { 'content-type': 'text/html' });
        res.write('<title>drip</title>');
        return every(50, () => res.write(' '));
      case '/reset':
        return req.socket.resetAndDestroy();
      case '/reset-mid-body':
        res.writeHead(200, { 'content-type': 'text/html', 'content-length': '100000' });
        res.write('<title>half</title>');
        return void setTimeout(() => req.socket.resetAndDestroy(), 20);
      case '/close-early':
        // Declares more than it sends, then closes cleanly: a truncated body.
        res.writeHead(200, { 'content-type': 'text/html', 'content-length': '5000' });
        res.write(HTML);
        return void setTimeout(() => req.socket.end(), 20);
      case '/huge': {
        // Endless chunked body, no length declared: the cap must stop it.
        res.writeHead(200, { 'content-type': 'text/html' });
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        return pump();
      }
      case '/huge-declared':
        res.writeHead(200, { 'content-type': 'text/html', 'content-length': String(2 ** 40) });
        return void res.write('<title>big</title>');
      case '/gzip-bomb':
        return void res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip' }).end(compressedBombs().gzip);
      case '/brotli-bomb':
        return void res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'br' }).end(compressedBombs().br);
      case '/deflate-bomb':
        return void res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'deflate' }).end(compressedBombs().deflate);
      case '/not-gzip':
        return void res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip' }).end(HTML);
      case '/redirect-loop':
        return void res.writeHead(302, { location: url.searchParams.get('side') === 'b' ? '/redirect-loop?side=a' : '/redirect-loop?side=b' }).end();
      case '/redirect-chain': {
        const n = Number(url.searchParams.get('n') ?? 0);
        return void res.writeHead(301, { location: n > 0 ? `/redirect-chain?n=${n - 1}` : '/ok' }).end();
      }
      case '/redirect-to':
        // Wherever the test says: loopback, the metadata address, another scheme.
        return void res.writeHead(302, { location: url.searchParams.get('target')! }).end();
      case '/redirect-bad-location':
        return void res.writeHead(302, { location: 'http://[not-an-ip/' }).end();
      case '/429':
        return html(429, { 'retry-after': url.searchParams.get('after') ?? '1' });
      case '/503':
        return html(503);
      case '/flaky': {
        // Fails `fails` times (503 with Retry-After 0, or a reset), then succeeds.
        const fails = Number(url.searchParams.get('fails') ?? 1);
        if (hit > fails) return html();
        if (url.searchParams.get('how') === 'reset') return req.socket.resetAndDestroy();
        return html(503, { 'retry-after': '0' });
      }
      case '/lying-type-image':
        // Says PNG, sends HTML: the header wins, as in a browser.
        return void res.writeHead(200, { 'content-type': 'image/png' }).end(HTML);
      case '/lying-type-html':
        // Says HTML, sends a PNG: a browser parses it as HTML, so do we.
        return void res.writeHead(200, { 'content-type': 'text/html' }).end(Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
      case '/lying-length-long':
        // Declares 20 bytes and sends the whole page: only the declared bytes are the body.
        req.socket.end(`HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 20\r\n\r\n${HTML}`);
        return;
      case '/malformed':
        // Not HTTP at all.
        req.socket.end('SSH-2.0-OpenSSH_9.6\r\n');
        return;
      case '/bad-header':
        req.socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nthis is not a header\r\n\r\n<title>x</title>');
        return;
      case '/header-flood':
        return void res.writeHead(200, { 'content-type': 'text/html', 'x-flood': 'a'.repeat(200_000) }).end(HTML);
      case '/404':
        return html(404);
      case '/robots.txt':
        // No robots.txt (allow everything): the faults are the pages'.
        return html(404);
      default:
        return html(500);
    }
  });
  const close = server.close;
  return Object.assign(server, {
    hits,
    timers,
    close: async () => {
      for (const t of timers) clearInterval(t);
      await close();
    },
  });
}
