import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SUMMARY_KEYS } from '../../functions/core/model/summary.js';
import { call } from '../../harness/api.js';
import { parseCrawlerConfig } from '../../lib/config.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import { startFaultServer } from '../support/fault-server.js';
import { runCrawler, startCrawler } from '../support/processes.js';
import { sendThrough, startRefusingSqs } from '../support/refusing-sqs.js';
import { expectedPage, startSite } from '../support/site.js';

let stack: LocalStack;
let site: Awaited<ReturnType<typeof startSite>>;
let faults: Awaited<ReturnType<typeof startFaultServer>>;
let sqs: Awaited<ReturnType<typeof startRefusingSqs>>;
let api: string;
/** URLs with this in them cannot be put on the queue (the submit function sends through startRefusingSqs). */
const UNQUEUEABLE = 'unqueueable';
const urls = Array.from({ length: 12 }, (_, n) => `PLACEHOLDER/page/${n}`);

beforeAll(async () => {
  vi.stubEnv('ALLOW_PRIVATE_NETWORK', 'true');
  [site, faults] = await Promise.all([startSite(), startFaultServer()]);
  // A loopback site of our own: no delay between requests to it (politeness has its own tests).
  stack = await startLocalStack({ config: parseCrawlerConfig({ politeness: { hostDelayMs: 0 } }), port: 0 });
  sqs = await startRefusingSqs(stack.sqsEndpoint, UNQUEUEABLE);
  // Before the submit function's first container starts.
  sendThrough(stack.functions.submit, stack.sqsEndpoint, sqs.url);
  api = stack.apiUrl;
  urls.forEach((u, i) => (urls[i] = u.replace('PLACEHOLDER', site.url)));
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await stack?.stop();
  await sqs?.close();
  await site?.close();
  await faults?.close();
});

describe('crawler submit / status / pages against the local stack (real processes)', () => {
  let crawlId: string;

  it('submit --wait shows progress lines when not on a terminal, then prints the pages as a table', async () => {
    const { code, stdout, stderr } = await runCrawler(['submit', '--wait', '--endpoint', api, ...urls, `${site.url}/missing/1`]);
    expect(code).toBe(0);
    crawlId = /crawl (\w{26}): 13 accepted, 0 rejected/.exec(stderr)![1]!;
    expect(stderr).toMatch(/completed: 13\/13 100% · 1 failed · [\d.]+ pages\/s · done\n/);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^STATUS\s+URL\s+TITLE\s+LINKS$/);
    expect(lines).toHaveLength(14);
    expect(stdout).toContain('HTTP_404');
  });

  it('submit says how many URLs could not be queued (recorded as failed); --json passes the count through', async () => {
    const some = [`${site.url}/page/40`, `${site.url}/${UNQUEUEABLE}/1`, `${site.url}/${UNQUEUEABLE}/2`];
    const { code, stdout, stderr } = await runCrawler(['submit', '--wait', '--format', 'json', '--endpoint', api, ...some]);
    expect(code).toBe(0);
    expect(stderr).toMatch(/^crawl \w{26}: 3 accepted, 0 rejected\n  2 of the 3 accepted could not be queued: recorded as failed \(ENQUEUE_FAILED\); the crawl goes on with the rest\n/);
    expect(stderr).toMatch(/completed: 3\/3 100% · 2 failed/);
    const pages = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(pages.filter((s) => s.error?.code === 'ENQUEUE_FAILED').map((s) => s.url).sort()).toEqual(some.slice(1));

    const json = await runCrawler(['submit', '--json', '--endpoint', api, `${site.url}/${UNQUEUEABLE}/3`, `${site.url}/page/41`]);
    expect([json.code, json.stderr]).toEqual([0, '']);
    expect(JSON.parse(json.stdout)).toEqual({ crawlId: expect.stringMatching(/^\w{26}$/), accepted: 2, rejected: [], statusUrl: expect.any(String), unqueued: 1 });
    expect(sqs.refused).toBeGreaterThanOrEqual(3);
  });

  it('status prints the crawl as JSON', async () => {
    const { code, stdout } = await runCrawler(['status', '--endpoint', api, crawlId]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ crawlId, status: 'completed', total: 13, succeeded: 12, failed: 1 });
  });

  it('pages --format json prints one Summary per line, every field of the contract', async () => {
    const { code, stdout } = await runCrawler(['pages', '--endpoint', api, '--format', 'json', crawlId]);
    expect(code).toBe(0);
    const items = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(items).toHaveLength(13);
    const page3 = items.find((s) => s.url === urls[3]);
    const { path: _path, ...fields } = expectedPage(3);
    expect(page3).toMatchObject({ ok: true, ...fields });
    for (const s of items) for (const key of SUMMARY_KEYS.filter((k) => k !== 'error')) expect(s, key).toHaveProperty(key);
  });

  it('pages --format csv prints a header and one RFC 4180 row per page', async () => {
    const { code, stdout } = await runCrawler(['pages', '--endpoint', api, '--format', 'csv', crawlId]);
    expect(code).toBe(0);
    const rows = stdout.split('\r\n').filter((r) => r !== '');
    expect(rows[0]).toBe(
      'url,finalUrl,status,ok,contentType,charset,title,lang,description,canonical,h1,links,images,bytes,durationMs,fetchedAt,contentHash,textHash,' +
        'errorCode,errorMessage,depth,change,changedFields,previousCrawlId,previousFetchedAt,previousContentHash',
    );
    expect(rows).toHaveLength(14);
    expect(rows.find((r) => r.startsWith(`${urls[3]},`))).toContain(`,${expectedPage(3).title},`);
    expect(rows.find((r) => r.startsWith(`${site.url}/missing/1,`))).toMatch(/,false,.*,HTTP_404,the server answered 404,0,(new|same|changed),/);
  });

  it('list shows crawls newest first with their names (GET /crawls); pages --change keeps only that change', async () => {
    const named = await runCrawler(['submit', '--json', '--endpoint', api, '--name', 'docs check', urls[0]!]);
    expect(named.code).toBe(0);
    const newest = JSON.parse(named.stdout).crawlId as string;
    const listed = await runCrawler(['list', '--endpoint', api, '--format', 'json']);
    expect(listed.code).toBe(0);
    const crawls = listed.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(crawls[0]).toMatchObject({ crawlId: newest, name: 'docs check' });
    expect(crawls.map((c) => c.crawlId)).toContain(crawlId);
    const ids = crawls.map((c) => c.crawlId as string);
    expect([...ids].sort().reverse()).toEqual(ids);
    const table = await runCrawler(['list', '--endpoint', api]);
    expect(table.stdout.split('\n')[0]).toMatch(/^CRAWL\s+STATUS\s+ENDED\/TOTAL\s+CREATED\s+NAME \/ SCHEDULE$/);
    expect(table.stdout).toContain('docs check');

    // The first crawl of these URLs in this deployment: every page is new, none changed.
    const fresh = await runCrawler(['pages', '--endpoint', api, '--format', 'json', '--change', 'new', crawlId]);
    expect(fresh.stdout.trim().split('\n')).toHaveLength(13);
    const changed = await runCrawler(['pages', '--endpoint', api, '--format', 'json', '--change', 'changed', crawlId]);
    expect(changed.stdout).toBe('');
    const bad = await runCrawler(['pages', '--endpoint', api, '--change', 'different', crawlId]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--change is new, same or changed');
    const refused = await call(api, 'GET', `/crawls/${crawlId}/pages?change=different`);
    expect(refused).toMatchObject({ status: 400, body: { error: { code: 'INVALID_CHANGE' } } });
  });

  it('reads the endpoint from a cdk deploy outputs file given with --outputs, and never picks one up unasked', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-outputs-'));
    await writeFile(join(dir, 'cdk-outputs.json'), JSON.stringify({ ServerlessCrawler: { TableName: 't', ApiUrl: `${api}/` } }));
    const { code, stdout } = await runCrawler(['status', '--outputs', join(dir, 'cdk-outputs.json'), crawlId]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout).crawlId).toBe(crawlId);
    // In that directory without --outputs, the default stays the local stack (PORT 9: nothing there).
    const local = await runCrawler(['status', crawlId], { env: { PORT: '9' }, cwd: dir });
    expect(local.code).toBe(1);
    expect(local.stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9/);
  });

  it('Ctrl-C stops watching, not the crawl, and says how to watch again', async () => {
    const slow = Array.from({ length: 3 }, (_, i) => `${faults.url}/hang?key=cli${i}`);
    const cli = startCrawler(['submit', '--wait', '--endpoint', api, ...slow]);
    const deadline = Date.now() + 20_000;
    while (!/running: /.test(cli.output().stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    cli.child.kill('SIGINT');
    const { code, stderr } = await cli.done;
    expect(code).toBe(130);
    const id = /crawl (\w{26})/.exec(stderr)![1]!;
    expect(stderr).toContain(`Watch it again: crawler status --wait ${id}`);
    expect((await call(api, 'GET', `/crawls/${id}`)).body).toMatchObject({ status: 'running', total: 3 });
  });

  it('submit --wait --timeout gives up watching, not the crawl: prints its counts and how to keep watching, exits 124', async () => {
    const slow = [`${faults.url}/hang?key=timeout-submit`, `${site.url}/page/1`];
    const { code, stdout, stderr } = await runCrawler(['submit', '--wait', '--timeout', '3', '--endpoint', api, ...slow]);
    expect(code).toBe(124);
    const id = /crawl (\w{26}): 2 accepted/.exec(stderr)![1]!;
    expect(stderr).toMatch(new RegExp(`Timed out after 3 s; crawl ${id} goes on: [0-2] of 2 done \\([0-2] succeeded, 0 failed\\)\\.`));
    expect(stderr).toContain(`Watch it again: crawler status --wait ${id}`);
    expect(stdout).toBe('');
    expect((await call(api, 'GET', `/crawls/${id}`)).body).toMatchObject({ status: 'running', total: 2 });
  });

  it('status --wait --timeout prints the crawl as last read (JSON on stdout) and how to keep watching, exits 124', async () => {
    const submitted = await call(api, 'POST', '/crawls', { urls: [`${faults.url}/hang?key=timeout-status`] });
    const id = submitted.body.crawlId as string;
    const { code, stdout, stderr } = await runCrawler(['status', '--wait', '--timeout', '2.5', '--endpoint', api, id]);
    expect(code).toBe(124);
    expect(JSON.parse(stdout)).toMatchObject({ crawlId: id, status: 'running', total: 1, succeeded: 0, failed: 0 });
    expect(stderr).toContain(`Timed out after 2.5 s; crawl ${id} goes on: 0 of 1 done (0 succeeded, 0 failed).`);
    expect(stderr).toContain(`Watch it again: crawler status --wait ${id}`);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('status --wait --timeout that is not reached prints the completed crawl and exits 0', async () => {
    const { code, stdout } = await runCrawler(['status', '--wait', '--timeout', '600', '--endpoint', api, crawlId]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ crawlId, status: 'completed', total: 13 });
  });

  it.each([
    [['submit', '--endpoint', 'http://127.0.0.1:9'], /give at least one URL/],
    [['submit', '--max-depth', '-1', 'https://a.example/'], /--max-depth/],
    [['submit', '--same-origin', 'maybe', 'https://a.example/'], /--same-origin/],
    [['submit', '--format', 'xml', 'https://a.example/'], /--format/],
    [['status'], /exactly one CRAWL_ID/],
    [['pages', '--format', 'yaml', 'X'], /--format/],
    [['status', '--endpoint', 'ftp://x/', 'X'], /--endpoint "ftp:\/\/x\/" is not an absolute http\(s\) URL/],
    [['status', '--nope', 'X'], /Unknown option/],
  ])('exits non-zero with a message and no stack trace: %j', async (args, message) => {
    const { code, stderr } = await runCrawler(args as string[]);
    expect(code).toBeGreaterThan(0);
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('reports an API error with its code', async () => {
    const { code, stderr } = await runCrawler(['status', '--endpoint', api, '01ARZ3NDEKTSV4RRFFQ69G5FAV']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/CRAWL_NOT_FOUND: no crawl with id 01ARZ3NDEKTSV4RRFFQ69G5FAV/);
  });

  it('says why each URL was refused when none could be accepted', async () => {
    const refused = await runCrawler(['submit', '--endpoint', api, 'ftp://x.example/', 'mailto:someone@example.com']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/NO_VALID_URLS: none of the URLs can be crawled\n  rejected ftp:\/\/x\.example\/: .*ftp.*\n  rejected mailto:someone@example\.com: /);
  });
});

describe('SigV4 signing', () => {
  let server: Server;
  let endpoint: string;
  const seen: { authorization?: string; valid: boolean }[] = [];
  const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

  beforeAll(async () => {
    // A stand-in for API Gateway's IAM check: re-signs what arrived with the same key and compares.
    const verifier = new SignatureV4({ service: 'execute-api', region: 'eu-west-1', credentials, sha256: Hash.bind(null, 'sha256'), uriEscapePath: true });
    server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks).toString('utf8');
      const authorization = req.headers['authorization'];
      if (authorization === undefined) {
        seen.push({ authorization, valid: false });
        return res.writeHead(403, { 'content-type': 'application/json' }).end('{"message":"Missing Authentication Token"}');
      }
      const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization ?? '')?.[1]?.split(';') ?? [];
      const url = new URL(req.url!, `http://${req.headers.host}`);
      const headers: Record<string, string> = {};
      for (const name of signedHeaders) headers[name] = String(req.headers[name]);
      const query: Record<string, string> = {};
      for (const [k, v] of url.searchParams) query[k] = v;
      const amzDate = String(req.headers['x-amz-date']);
      const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
      const expected = await verifier.sign(
        { method: req.method!, protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: url.pathname, query, headers, ...(body ? { body } : {}) },
        { signingDate },
      );
      const valid = authorization !== undefined && expected.headers['authorization'] === authorization;
      seen.push({ authorization, valid });
      if (!valid) return res.writeHead(403, { 'content-type': 'application/json' }).end('{"message":"The request signature we calculated does not match"}');
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ crawlId: '01ARZ3NDEKTSV4RRFFQ69G5FAV', status: 'running', total: 1, succeeded: 0, failed: 0, createdAt: '2026-11-25T00:00:00.000Z' }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const env = { AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey, AWS_REGION: 'eu-west-1', AWS_SESSION_TOKEN: '' };

  it('signs requests with the credential chain (here the environment), and the signature verifies', async () => {
    const { code, stdout, stderr } = await runCrawler(['status', '--sigv4', '--endpoint', endpoint, '01ARZ3NDEKTSV4RRFFQ69G5FAV'], { env });
    expect([code, stderr]).toEqual([0, '']);
    expect(JSON.parse(stdout).status).toBe('running');
    expect(seen.at(-1)).toMatchObject({ valid: true, authorization: expect.stringMatching(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request/) });
  });

  it('signs a POST body and a query string too', async () => {
    await runCrawler(['pages', '--sigv4', '--endpoint', endpoint, '--format', 'json', '01ARZ3NDEKTSV4RRFFQ69G5FAV'], { env });
    expect(seen.at(-1)?.valid).toBe(true);
    await runCrawler(['submit', '--sigv4', '--endpoint', endpoint, 'https://a.example/?q=1 2'], { env });
    expect(seen.at(-1)?.valid).toBe(true);
  });

  it('does not sign for the local stack, and says what is missing when there are no credentials', async () => {
    const unsigned = seen.length;
    await runCrawler(['status', '--endpoint', endpoint, '01ARZ3NDEKTSV4RRFFQ69G5FAV'], { env });
    expect(seen.at(-1)).toMatchObject({ authorization: undefined, valid: false });
    expect(seen.length).toBe(unsigned + 1);
    const { code, stderr } = await runCrawler(['status', '--sigv4', '--endpoint', endpoint, 'X'], {
      env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_REGION: 'eu-west-1', AWS_PROFILE: 'no-such-profile', AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_EC2_METADATA_DISABLED: 'true' },
    });
    expect(code).toBe(1);
    expect(stderr).toMatch(/no usable AWS credentials/);
  });
});
