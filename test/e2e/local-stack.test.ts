import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { allPages, call, waitForCompletion } from '../../harness/api.js';
import { parseCrawlerConfig } from '../../lib/config.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/engines.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { expectedPage, startSite } from '../support/site.js';

let stack: LocalStack;
let site: Awaited<ReturnType<typeof startSite>>;
let api: string;

beforeAll(async () => {
  // The loopback site is private by definition; the guard is lifted the only way the contract allows.
  vi.stubEnv('ALLOW_PRIVATE_NETWORK', 'true');
  site = await startSite();
  // A loopback site of our own: no delay between requests to it (politeness has its own tests).
  stack = await startLocalStack({ config: parseCrawlerConfig({ politeness: { hostDelayMs: 0 } }), port: 0 });
  api = stack.apiUrl;
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await stack?.stop();
  await site?.close();
});

describe('the local stack, end to end: API → SQS → consumer → DynamoDB Local → API', () => {
  it('crawls 200 loopback URLs to completion with exact counts and correct summaries', async () => {
    const good = Array.from({ length: 190 }, (_, n) => `${site.url}/page/${n}`);
    const missing = Array.from({ length: 10 }, (_, n) => `${site.url}/missing/${n}`);
    const started = Date.now();
    const submit = await call(api, 'POST', '/crawls', { urls: [...good, ...missing, 'mailto:x@example.com', `${site.url}/page/0#dup`] });
    expect(submit.status).toBe(202);
    expect(submit.body).toMatchObject({ accepted: 200, rejected: [{ url: 'mailto:x@example.com' }, { url: `${site.url}/page/0#dup`, reason: 'duplicate within the request' }] });
    expect(submit.body.statusUrl).toBe(`${api}/crawls/${submit.body.crawlId}`);

    const done = await waitForCompletion(api, submit.body.crawlId);
    console.log(`e2e: 200 URLs crawled through the local stack in ${Date.now() - started} ms`);
    expect(done).toMatchObject({ status: 'completed', total: 200, succeeded: 190, failed: 10, completedAt: expect.any(String) });

    const items = await allPages(api, submit.body.crawlId, 37);
    expect(items).toHaveLength(200);
    expect(new Set(items.map((s) => s.url)).size).toBe(200);
    for (const summary of items) {
      const path = new URL(summary.url).pathname;
      if (path.startsWith('/missing/')) {
        expect(summary).toMatchObject({ ok: false, status: 404, error: { code: 'HTTP_404' } });
        continue;
      }
      const { path: _path, ...fields } = expectedPage(Number(path.split('/')[2]));
      expect(summary, summary.url).toMatchObject({ ...fields, ok: true, status: 200, finalUrl: summary.url, contentType: 'text/html', charset: 'UTF-8' });
      expect(summary.contentHash).toMatch(/^[0-9a-f]{64}$/);
      expect(summary.bytes).toBeGreaterThan(0);
      expect(summary.error).toBeUndefined();
    }
    // Every page was fetched exactly once.
    for (const url of good) expect(site.hits.get(new URL(url).pathname)).toBe(1);

    const latest = await call(api, 'GET', `/pages?url=${encodeURIComponent(`${site.url}/page/7`)}`);
    expect(latest.status).toBe(200);
    expect(latest.body).toMatchObject({ url: `${site.url}/page/7`, title: expectedPage(7).title });
  });

  it('follows same-origin links to maxDepth, counting each URL once', async () => {
    const submit = await call(api, 'POST', '/crawls', { urls: [`${site.url}/graph/0`], maxDepth: 3 });
    const done = await waitForCompletion(api, submit.body.crawlId);
    // A binary tree to depth 3 has 1 + 2 + 4 + 8 nodes; the back links to /graph/0 and off-site links add nothing.
    expect(done).toMatchObject({ status: 'completed', total: 15, succeeded: 15, failed: 0 });
    const urls = (await allPages(api, submit.body.crawlId)).map((s) => new URL(s.url).pathname).sort();
    expect(urls).toEqual(Array.from({ length: 15 }, (_, n) => `/graph/${n}`).sort());
  });

  it('stops adding links at maxPages', async () => {
    const submit = await call(api, 'POST', '/crawls', { urls: [`${site.url}/graph/0`], maxDepth: 10, maxPages: 20 });
    const done = await waitForCompletion(api, submit.body.crawlId);
    expect(done).toMatchObject({ status: 'completed', total: 20, succeeded: 20, failed: 0 });
    expect(await allPages(api, submit.body.crawlId)).toHaveLength(20);
  });

  it('counts a redelivered message once', async () => {
    const url = `${site.url}/page/500`;
    const submit = await call(api, 'POST', '/crawls', { urls: [url] });
    const sqs = new SQSClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: stack.sqsEndpoint });
    const duplicate = JSON.stringify({ crawlId: submit.body.crawlId, url, depth: 0, maxDepth: 0, sameOrigin: true });
    await Promise.all([1, 2, 3].map(() => sqs.send(new SendMessageCommand({ QueueUrl: stack.resources.queueUrl, MessageBody: duplicate }))));
    await waitForCompletion(api, submit.body.crawlId);
    // Give the duplicates time to be consumed, then check nothing moved.
    const deadline = Date.now() + 10_000;
    while ((site.hits.get('/page/500') ?? 0) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 3_000));
    expect((await call(api, 'GET', `/crawls/${submit.body.crawlId}`)).body).toMatchObject({ total: 1, succeeded: 1, failed: 0, status: 'completed' });
    expect(await allPages(api, submit.body.crawlId)).toHaveLength(1);
    sqs.destroy();
  });
});

describe('the API refuses bad input with a 4xx and a JSON error code', () => {
  const cases: [string, string, string, unknown, Record<string, string>, number, string][] = [
    ['malformed JSON', 'POST', '/crawls', '{"urls": [', {}, 400, 'INVALID_JSON'],
    ['an empty body', 'POST', '/crawls', '', { 'content-type': 'application/json' }, 400, 'INVALID_JSON'],
    ['a JSON array', 'POST', '/crawls', [], {}, 400, 'INVALID_REQUEST'],
    ['urls of the wrong type', 'POST', '/crawls', { urls: 'https://a.example/' }, {}, 400, 'INVALID_REQUEST'],
    ['an unknown field', 'POST', '/crawls', { urls: ['https://a.example/'], depth: 3 }, {}, 400, 'INVALID_REQUEST'],
    ['a negative maxDepth', 'POST', '/crawls', { urls: ['https://a.example/'], maxDepth: -1 }, {}, 400, 'INVALID_REQUEST'],
    ['maxPages of zero', 'POST', '/crawls', { urls: ['https://a.example/'], maxPages: 0 }, {}, 400, 'INVALID_REQUEST'],
    ['no valid URL', 'POST', '/crawls', { urls: ['ftp://a', 'nope'] }, {}, 400, 'NO_VALID_URLS'],
    ['text/plain', 'POST', '/crawls', '{"urls":["https://a.example/"]}', { 'content-type': 'text/plain' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['a wrong method', 'DELETE', '/crawls', undefined, {}, 405, 'METHOD_NOT_ALLOWED'],
    ['PATCH on the collection', 'PATCH', '/crawls', undefined, {}, 405, 'METHOD_NOT_ALLOWED'],
    ['a listing limit of 0', 'GET', '/crawls?limit=0', undefined, {}, 400, 'INVALID_LIMIT'],
    ['a listing cursor it did not issue', 'GET', '/crawls?cursor=bm90LWEtY3Vyc29y', undefined, {}, 400, 'INVALID_CURSOR'],
    ['a webhook that is not http(s)', 'POST', '/crawls', { urls: ['https://a.example/'], webhook: { url: 'ftp://hooks.example/' } }, {}, 400, 'INVALID_WEBHOOK'],
    ['a webhook event that does not exist', 'POST', '/crawls', { urls: ['https://a.example/'], webhook: { url: 'https://hooks.example/', events: ['page.deleted'] } }, {}, 400, 'INVALID_WEBHOOK'],
    ['an unknown path', 'GET', '/nothing/here', undefined, {}, 404, 'NOT_FOUND'],
    ['an unknown crawl', 'GET', '/crawls/01ARZ3NDEKTSV4RRFFQ69G5FAV', undefined, {}, 404, 'CRAWL_NOT_FOUND'],
    ['a malformed crawl id', 'GET', '/crawls/..%2F..%2Fetc', undefined, {}, 404, 'CRAWL_NOT_FOUND'],
    ['pages of an unknown crawl', 'GET', '/crawls/01ARZ3NDEKTSV4RRFFQ69G5FAV/pages', undefined, {}, 404, 'CRAWL_NOT_FOUND'],
    ['GET /pages without url', 'GET', '/pages', undefined, {}, 400, 'MISSING_URL'],
    ['GET /pages with a relative url', 'GET', '/pages?url=/x', undefined, {}, 400, 'INVALID_URL'],
    ['GET /pages never crawled', 'GET', '/pages?url=https%3A%2F%2Fnever.example%2F', undefined, {}, 404, 'PAGE_NOT_FOUND'],
    ['JSON null', 'POST', '/crawls', 'null', { 'content-type': 'application/json' }, 400, 'INVALID_REQUEST'],
    ['a JSON string', 'POST', '/crawls', '"https://a.example/"', { 'content-type': 'application/json' }, 400, 'INVALID_REQUEST'],
    ['urls holding non-strings', 'POST', '/crawls', { urls: [null, 1, {}, []] }, {}, 400, 'INVALID_REQUEST'],
    ['a fractional maxDepth', 'POST', '/crawls', { urls: ['https://a.example/'], maxDepth: 1.5 }, {}, 400, 'INVALID_REQUEST'],
    ['a maxDepth over 10', 'POST', '/crawls', { urls: ['https://a.example/'], maxDepth: 11 }, {}, 400, 'INVALID_REQUEST'],
    ['an overflowing number', 'POST', '/crawls', '{"urls": ["https://a.example/"], "maxPages": 1e400}', { 'content-type': 'application/json' }, 400, 'INVALID_REQUEST'],
    ['sameOrigin as a string', 'POST', '/crawls', { urls: ['https://a.example/'], sameOrigin: 'yes' }, {}, 400, 'INVALID_REQUEST'],
    ['a __proto__ key', 'POST', '/crawls', '{"__proto__": {"urls": ["https://a.example/"]}}', { 'content-type': 'application/json' }, 400, 'INVALID_REQUEST'],
    ['100,000-deep nesting', 'POST', '/crawls', '['.repeat(100_000) + ']'.repeat(100_000), { 'content-type': 'application/json' }, 400, 'INVALID_REQUEST'],
    ['no content type', 'POST', '/crawls', '{"urls":["https://a.example/"]}', { 'content-type': '' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['a form body', 'POST', '/crawls', 'urls=https://a.example/', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['PUT', 'PUT', '/crawls', { urls: ['https://a.example/'] }, {}, 405, 'METHOD_NOT_ALLOWED'],
    ['PATCH on a crawl', 'PATCH', '/crawls/01ARZ3NDEKTSV4RRFFQ69G5FAV', undefined, {}, 405, 'METHOD_NOT_ALLOWED'],
    ['OPTIONS', 'OPTIONS', '/pages', undefined, {}, 405, 'METHOD_NOT_ALLOWED'],
    ['POST on pages', 'POST', '/crawls/01ARZ3NDEKTSV4RRFFQ69G5FAV/pages', {}, {}, 405, 'METHOD_NOT_ALLOWED'],
    ['a doubled slash', 'GET', '//crawls', undefined, {}, 404, 'NOT_FOUND'],
    ['a trailing slash', 'GET', '/crawls/', undefined, {}, 404, 'NOT_FOUND'],
    ['a path too deep', 'GET', '/crawls/x/pages/y', undefined, {}, 404, 'NOT_FOUND'],
    ['a NUL in the crawl id', 'GET', '/crawls/%00', undefined, {}, 404, 'CRAWL_NOT_FOUND'],
    ['broken percent-encoding', 'GET', '/crawls/%E0%A4%A', undefined, {}, 404, 'CRAWL_NOT_FOUND'],
    ['a 5,000-character crawl id', 'GET', `/crawls/${'A'.repeat(5_000)}`, undefined, {}, 404, 'CRAWL_NOT_FOUND'],
    ['a cursor of the wrong shape', 'GET', '/crawls/01ARZ3NDEKTSV4RRFFQ69G5FAV/pages?cursor=eyJ2IjoxLCJzayI6IiNNRVRBIn0', undefined, {}, 404, 'CRAWL_NOT_FOUND'],
    ['a query string over 10 KB', 'GET', `/pages?url=${'a'.repeat(20_000)}`, undefined, {}, 431, 'REQUEST_TOO_LARGE'],
    ['a body over 6 MB', 'POST', '/crawls', 'x'.repeat(7 * 1024 * 1024), { 'content-type': 'application/json' }, 413, 'BODY_TOO_LARGE'],
    ['a body over API Gateway\'s 10 MB', 'POST', '/crawls', 'x'.repeat(11 * 1024 * 1024), { 'content-type': 'application/json' }, 413, 'REQUEST_TOO_LARGE'],
  ];
  it.each(cases)('%s', async (_name, method, path, body, headers, status, code) => {
    const res = await call(api, method, path, body, headers);
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ error: { code, message: expect.any(String), ...(code === 'NO_VALID_URLS' ? { rejected: expect.any(Array) } : {}) } });
    expect(JSON.stringify(res.body)).not.toMatch(/at \w+ \(|node_modules|Exception/);
    expect(JSON.stringify(res.body).length).toBeLessThan(1_000);
  });

  it('keeps serving after all of that', async () => {
    const res = await call(api, 'POST', '/crawls', { urls: [`${site.url}/page/902`] });
    expect(res.status).toBe(202);
    expect((await waitForCompletion(api, res.body.crawlId)).succeeded).toBe(1);
  });

  it('refuses a body that is not UTF-8 JSON', async () => {
    const res = await fetch(`${api}/crawls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]) });
    expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([400, 'INVALID_JSON']);
  });

  it('refuses a cursor from another crawl\'s listing, and a forged one', async () => {
    const submit = await call(api, 'POST', '/crawls', { urls: [`${site.url}/page/903`] });
    const forged = Buffer.from(JSON.stringify({ v: 1, sk: '#META' })).toString('base64url');
    for (const cursor of [forged, '%00', 'a'.repeat(300), '😀']) {
      const res = await call(api, 'GET', `/crawls/${submit.body.crawlId}/pages?cursor=${encodeURIComponent(cursor)}`);
      expect([cursor, res.status, res.body.error?.code]).toEqual([cursor, 400, 'INVALID_CURSOR']);
    }
  });

  it('refuses more than 10,000 URLs with 413 TOO_MANY_URLS', async () => {
    const urls = Array.from({ length: 10_001 }, (_, i) => `https://a.example/${i}`);
    const res = await call(api, 'POST', '/crawls', { urls });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('TOO_MANY_URLS');
  });

  it('rejects a URL over 2,048 characters but accepts the rest', async () => {
    const res = await call(api, 'POST', '/crawls', { urls: [`https://a.example/${'x'.repeat(2_100)}`, `${site.url}/page/900`] });
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(1);
    expect(res.body.rejected[0].reason).toMatch(/2048/);
  });

  it('refuses bad limits and cursors on the pages listing', async () => {
    const submit = await call(api, 'POST', '/crawls', { urls: [`${site.url}/page/901`] });
    for (const limit of ['0', '1001', 'ten', '-5', '1.5']) {
      const res = await call(api, 'GET', `/crawls/${submit.body.crawlId}/pages?limit=${limit}`);
      expect([limit, res.status, res.body.error?.code]).toEqual([limit, 400, 'INVALID_LIMIT']);
    }
    const res = await call(api, 'GET', `/crawls/${submit.body.crawlId}/pages?cursor=not-a-cursor`);
    expect([res.status, res.body.error.code]).toEqual([400, 'INVALID_CURSOR']);
  });
});
