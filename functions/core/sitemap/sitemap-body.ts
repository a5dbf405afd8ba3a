import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** sitemaps.org's limit on one sitemap, uncompressed: what is read of a body, after every decompression. */
export const MAX_SITEMAP_BYTES = 50 * 1024 * 1024;

/** gzip's magic number: a body that starts with it is a .xml.gz file, whatever its headers say. */
const GZIP = [0x1f, 0x8b] as const;
/** A .gz file served with Content-Encoding: gzip is gzip twice; more layers than this are not a sitemap. */
const MAX_GZIP_LAYERS = 2;

export interface BodyState {
  /** The body went past the cap: what came before it was read, the rest not. */
  truncated: boolean;
}

/**
 * A sitemap's bytes from its (content-decoded) body: gunzipped while they start with gzip's magic, at most `cap`
 * bytes after all decompression (so a gzip bomb stops at the cap), read as they arrive. Past the cap the body is cut
 * and `state.truncated` set; stopping early (break) closes the source.
 */
export async function* sitemapBytes(body: AsyncIterable<Uint8Array>, cap: number, state: BodyState, layers = 0): AsyncGenerator<Uint8Array> {
  const iterator = body[Symbol.asyncIterator]();
  let head: Uint8Array = new Uint8Array(0);
  let done = false;
  try {
    // Enough bytes to tell gzip from the rest.
    while (head.length < GZIP.length && !done) {
      const next = await iterator.next();
      if (next.done) done = true;
      else head = head.length === 0 ? next.value : Buffer.concat([head, next.value]);
    }
    const rest: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({ next: () => (done ? Promise.resolve({ done: true, value: undefined }) : iterator.next()) }),
    };
    const whole = async function* () {
      if (head.length > 0) yield head;
      yield* rest;
    };
    if (layers < MAX_GZIP_LAYERS && head[0] === GZIP[0] && head[1] === GZIP[1]) {
      const source = Readable.from(whole(), { objectMode: false });
      const gunzip = createGunzip();
      source.on('error', (err) => gunzip.destroy(err));
      source.pipe(gunzip);
      try {
        yield* sitemapBytes(gunzip, cap, state, layers + 1);
      } finally {
        source.destroy();
        gunzip.destroy();
      }
      return;
    }
    let size = 0;
    for await (const chunk of whole()) {
      if (size + chunk.length > cap) {
        state.truncated = true;
        if (cap > size) yield chunk.subarray(0, cap - size);
        return;
      }
      size += chunk.length;
      yield chunk;
    }
  } finally {
    await iterator.return?.();
  }
}
