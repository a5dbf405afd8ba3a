import { describe, expect, it } from 'vitest';
import { getLatestPage } from '../../functions/core/crawl/read-crawls.js';
import type { CrawlStore } from '../../functions/core/model/ports.js';

/** A store no refused URL may reach. */
const untouched = new Proxy({} as CrawlStore, {
  get: (_target, name) => () => Promise.reject(new Error(`the store was asked ${String(name)}`)),
});

describe('getLatestPage (GET /pages?url=)', () => {
  it.each([
    ['url: scheme ftp is not http or https', 'ftp://x/'],
    ['url: not an absolute URL', '/x'],
    ['url: scheme file is not http or https', 'file:///etc/passwd'],
    ['url: longer than 2048 characters', `https://a.example/${'x'.repeat(2_100)}`],
  ])('refuses a bad url with INVALID_URL, saying %j', async (message, url) => {
    await expect(getLatestPage(untouched, url)).rejects.toMatchObject({ kind: 'invalid', code: 'INVALID_URL', message });
  });
});
