import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import pLimit from 'p-limit';
import type { FetchLimits } from '../functions/core/fetch/fetch-limits.js';
import type { PoliteSettings } from '../functions/core/polite/admission.js';
import type { CrawlStatusView } from '../functions/core/crawl/read-crawls.js';
import type { Change } from '../functions/core/model/summary.js';
import { WEBHOOK_EVENTS, type WebhookEvent } from '../functions/core/model/crawl.js';
import { normalizeUrl } from '../functions/core/model/url.js';
import { patternProblem } from '../functions/core/crawl/scope.js';
import type { CrawlRequestInput } from '../functions/core/model/crawl-request.js';
import type { CrawlerConfig } from '../lib/config.js';
import { ApiClient, sigv4Signer, type SubmitResponse } from './api-client.js';
import { LOCAL_ENDPOINT, resolveEndpoint, signingRegion } from './endpoint.js';
import { EXIT, exitQuietlyOnBrokenPipe, UsageError } from './errors.js';
import { formatSummaryLine, toCrawlTable, toCsv, toTable } from './format.js';
import { Progress } from './progress.js';

// What a command needs beyond parsing its options (the configuration's schema, the fetch and parse engine, zod) is
// imported when the command runs, so `crawler --help` and a bad option answer without loading any of it.

const ENDPOINT_HELP = `
Endpoint options:
  --endpoint URL   the API (default: the local stack, ${LOCAL_ENDPOINT})
  --outputs FILE   read the API URL from a \`cdk deploy --outputs-file\` file
  --sigv4          sign requests even when the host is not an execute-api one`;

const USAGE = `Usage: crawler <command> [options]

Commands:
  fetch [--json] [--concurrency N] [--parse-threads N] [--host-delay MS] [--ignore-robots] [--allow-private-network]
        [--config FILE] [--file F] URL...
      Fetch and summarize pages in this process, with the engine, fetch limits and politeness the consumer Lambda uses.
  submit [--wait [--timeout S] | --json] [--max-depth N] [--max-pages N] [--same-origin=false]
         [--include P]... [--exclude P]... [--sitemap MODE] [--ignore-robots] [--host-delay MS]
         [--name NAME] [--webhook URL [--webhook-event E]...] [--file F] URL...
      Start a crawl through the API (POST /crawls); --wait shows its progress, then prints the results.
  status [--wait [--timeout S]] CRAWL_ID
      Show a crawl's progress (--wait: follow it to the end).
  pages [--format table|json|csv] [--change new|same|changed] CRAWL_ID
      Print a crawl's page summaries (only the new, same or changed ones, with --change).
  list [--schedule NAME] [--format table|json]
      List crawls, newest first (a schedule's runs, with --schedule).
  cancel [--json] CRAWL_ID
      Cancel a running crawl (DELETE /crawls/{id}): no request for it starts after a few seconds.
  help [COMMAND]
      This text, or a command's details (as \`crawler COMMAND --help\`).

The API commands take --endpoint URL, or --outputs FILE to read the ApiUrl from a file written by
npx cdk deploy --outputs-file FILE; the default is the local stack (${LOCAL_ENDPOINT}). Requests to a deployed
API are SigV4-signed with your AWS credentials (--sigv4 forces it, e.g. for a custom domain).
Run \`crawler <command> --help\` for a command's details.

Exit codes:
  0    done (fetch: every URL was tried, even if some pages failed)
  1    an API or network error
  2    bad usage: an unknown command or option, a bad value
  124  --wait --timeout passed before the crawl completed (it goes on; the counts so far are printed)
  130  Ctrl-C while waiting (the crawl goes on)`;

const WAIT_HELP = `  --wait            show progress until the crawl completes (a live bar on a terminal, a line every 5 s otherwise);
                    Ctrl-C stops watching, not the crawl (exit 130)
  --timeout S       with --wait: give up watching after S seconds (a positive number); the crawl goes on, its
                    counts so far are printed, and the command exits 124`;

const HELP: Record<string, string> = {
  fetch: `Usage: crawler fetch [--json] [--concurrency N] [--parse-threads N] [--host-delay MS] [--ignore-robots]
                     [--allow-private-network] [--config FILE] [--file F] URL...

Fetches and summarizes each URL here, with no queue and no table, within the deployment's fetch limits (the
"fetch" settings of cdk.json: deadlines, body cap, redirects) and as politely as the crawler: its User-Agent
(cdk.json's userAgent), robots.txt fetched once per origin and obeyed (a disallowed URL is not fetched and fails
ROBOTS_DISALLOWED), and requests to one host started at least the host delay apart (longer if robots.txt asks with
Crawl-delay, or the host answers 429/503). URLs come from the arguments and/or a file (one a line; blank lines and
lines starting with # are skipped).

  --json                    one Summary per line (JSON), in input order
  --concurrency N           pages in flight at once (default 16)
  --parse-threads N         worker threads parsing pages while this thread fetches; 0 parses here (default: one
                            per core available, and 0 on one core)
  --host-delay MS           least time between two requests to one host, 0 to 60000 ms (default: the deployment's
                            politeness.hostDelayMs, 1000)
  --ignore-robots           do not fetch or obey robots.txt
  --allow-private-network   allow loopback and private addresses (or ALLOW_PRIVATE_NETWORK=true)
  --config FILE             the fetch limits and politeness of FILE, shaped like cdk.json, instead of the
                            repository's cdk.json (as npm start -- --config FILE)
  --file F                  read URLs from F ("-" for standard input)

Exits 0 when every page was tried, even if some failed (their error says why); 2 on bad usage.`,
  submit: `Usage: crawler submit [--wait [--timeout S] | --json] [--max-depth N] [--max-pages N] [--same-origin=false]
                      [--include P]... [--exclude P]... [--sitemap MODE] [--ignore-robots] [--host-delay MS]
                      [--name NAME] [--webhook URL [--webhook-event E]...] [--file F] [ENDPOINT OPTIONS] URL...

Starts a crawl (POST /crawls) and prints its id on stdout; with --wait, prints its pages once it completes. On
stderr it says how many URLs were accepted and rejected (and why), and how many the API could not put on the queue
(those are recorded as failed, ENQUEUE_FAILED, and the crawl goes on with the rest).

${WAIT_HELP}
  --json            print the API's answer (crawlId, accepted, rejected, statusUrl, unqueued) as JSON instead
  --max-depth N     follow links N levels deep (default 0)
  --max-pages N     stop adding links once the crawl counts N URLs
  --same-origin=false  follow links to other origins too
  --include P       follow only discovered URLs matching pattern P (repeatable: any of them); seeds are always crawled
  --exclude P       do not follow discovered URLs matching P (repeatable). A pattern is matched against the whole
                    normalized URL: ** is any run of characters, * any run without /, everything else is literal
                    (quote patterns from the shell: --exclude '**?*')
  --sitemap MODE    skip (default), include (add the seed origins' sitemap URLs) or only (crawl those alone)
  --ignore-robots   do not fetch or obey robots.txt (robotsTxt: "ignore")
  --host-delay MS   least time between two requests to one host, 0 to 60000 ms (default: the deployment's, 1000)
  --name NAME       a label for the crawl, shown by crawler list (at most 100 characters)
  --webhook URL     POST the crawl's events to URL, signed (see the README's "Events and webhooks")
  --webhook-event E which events the webhook gets: crawl.completed (the default) and/or page.changed (repeatable)
  --format F        with --wait: how to print the pages (table, json, csv)
  --file F          read URLs from F, one a line ("-" for standard input)
${ENDPOINT_HELP}`,
  status: `Usage: crawler status [--wait [--timeout S]] [ENDPOINT OPTIONS] CRAWL_ID

Prints the crawl's status as JSON. With --wait, shows its progress until it completes, then prints it.

${WAIT_HELP}
${ENDPOINT_HELP}`,
  pages: `Usage: crawler pages [--format table|json|csv] [--change new|same|changed] [ENDPOINT OPTIONS] CRAWL_ID

Streams every page summary of the crawl, one API page at a time.

  --format table   aligned columns for a terminal (default)
  --format json    one Summary per line (JSON lines)
  --format csv     a header and one row per page
  --change C       only the pages whose change is C, against the URL's latest earlier summary from any crawl:
                   new (never crawled before), same, or changed (see changedFields)
${ENDPOINT_HELP}`,
  list: `Usage: crawler list [--schedule NAME] [--format table|json] [ENDPOINT OPTIONS]

Lists crawls newest first (GET /crawls), one API page at a time: every crawl the table still keeps, or with
--schedule the runs of that schedule (cdk.json's crawler.schedules).

  --schedule NAME  only the crawls this schedule started
  --format table   aligned columns for a terminal (default)
  --format json    one crawl per line (JSON lines), as GET /crawls/{id} shows it
${ENDPOINT_HELP}`,
  cancel: `Usage: crawler cancel [--json] [ENDPOINT OPTIONS] CRAWL_ID

Cancels a running crawl (DELETE /crawls/{id}). No request for it starts more than 5 s after the answer; its URLs not
fetched yet end as failed (CANCELLED), and it gets its completedAt once every URL has ended. Its status stays
"cancelled". Cancelling it again is harmless (the same answer); a crawl that had completed cannot be cancelled
(CRAWL_COMPLETED, exit 1), nor can an unknown one (CRAWL_NOT_FOUND, exit 1).

  --json            print the crawl as the API answered it (JSON) instead of a sentence
${ENDPOINT_HELP}`,
};

const ENDPOINT_OPTIONS = { endpoint: { type: 'string' }, outputs: { type: 'string' }, sigv4: { type: 'boolean' } } as const;
const WAIT_OPTIONS = { wait: { type: 'boolean' }, timeout: { type: 'string' } } as const;

/** An API client for the endpoint these options name, signing when the endpoint needs it. */
async function clientFor(values: { endpoint?: string | undefined; outputs?: string | undefined; sigv4?: boolean | undefined }): Promise<ApiClient> {
  const endpoint = resolveEndpoint(values.endpoint, values.outputs);
  const region = signingRegion(endpoint.url, values.sigv4 === true);
  return new ApiClient(endpoint.url, region ? await sigv4Signer(region) : undefined);
}


function parse<T extends NonNullable<ParseArgsConfig['options']>>(command: string, argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${HELP[command]}`);
  }
}

/** --timeout S in milliseconds: a positive number of seconds, and only with --wait. */
function waitTimeoutMs(values: { wait?: boolean | undefined; timeout?: string | undefined }): number | undefined {
  const text = values.timeout;
  if (text === undefined) return undefined;
  const seconds = /^\s*\d*\.?\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!(seconds > 0 && seconds * 1000 <= 2 ** 31 - 1)) throw new UsageError(`--timeout is a positive number of seconds (e.g. 600), not "${text}"`);
  if (!values.wait) throw new UsageError('--timeout limits how long --wait watches; give it with --wait');
  return seconds * 1000;
}

function positiveInt(name: string, value: string | undefined, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`${name} must be a whole number of at least 1, not "${value}"`);
  return Number(value);
}

async function readUrls(positionals: string[], file: string | undefined): Promise<string[]> {
  const urls = [...positionals];
  if (file !== undefined) {
    let text: string;
    try {
      text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    urls.push(...text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')));
  }
  if (urls.length === 0) throw new UsageError('give at least one URL, as an argument or with --file');
  return urls;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The fetch limits and politeness the deployment's consumer uses: the `fetch`, `userAgent` and `politeness` settings
 * of cdk.json, or of --config FILE (relative to the working directory). The address guard is this command's own:
 * --allow-private-network, or ALLOW_PRIVATE_NETWORK=true as for the consumer (only the exact string "true": a typo
 * keeps the guard).
 */
async function fetchSettings(configFile: string | undefined, allowFlag: boolean): Promise<{ limits: FetchLimits; politeness: PoliteSettings }> {
  const { ConfigFileError, readCrawlerConfig } = await import('../lib/config.js');
  let config: CrawlerConfig;
  try {
    config = configFile === undefined ? readCrawlerConfig() : readCrawlerConfig(resolve(configFile), configFile);
  } catch (err) {
    throw err instanceof ConfigFileError ? new UsageError(err.message) : err;
  }
  return {
    limits: { ...config.fetch, allowPrivateNetwork: allowFlag || process.env['ALLOW_PRIVATE_NETWORK'] === 'true' },
    politeness: { userAgent: config.userAgent, ...config.politeness },
  };
}

/**
 * --parse-threads N: worker threads that parse while the main thread fetches. By default one per core this process
 * may use (os.availableParallelism(), which honours taskset and CPU affinity), as the consumer's pool: on two cores,
 * measured, 2 threads crawl the bench's 2,000 pages in 7.9 s, 1 thread in 11.1 s, none in 10.7 s. On one core, none:
 * pages are parsed on the main thread, as a worker would only add its own heap and a hand-off on the same core.
 */
function parseThreadsOption(value: string | undefined): number {
  const cores = availableParallelism();
  if (value === undefined) return cores > 1 ? cores : 0;
  if (!/^\d+$/.test(value) || Number(value) > 64) throw new UsageError(`--parse-threads is a whole number from 0 to 64, not "${value}"`);
  return Number(value);
}

/** --host-delay MS: a whole number of milliseconds from 0 to 60,000, as the crawl request's hostDelayMs. */
function hostDelayOption(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 60_000) throw new UsageError(`--host-delay is a whole number of milliseconds from 0 to 60000, not "${value}"`);
  return Number(value);
}

async function fetchCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('fetch', argv, {
    json: { type: 'boolean' },
    concurrency: { type: 'string' },
    'parse-threads': { type: 'string' },
    'allow-private-network': { type: 'boolean' },
    config: { type: 'string' },
    file: { type: 'string' },
    'host-delay': { type: 'string' },
    'ignore-robots': { type: 'boolean' },
  });
  if (values.help) return help('fetch');
  const concurrency = positiveInt('--concurrency', values.concurrency, 16)!;
  const parseThreads = parseThreadsOption(values['parse-threads']);
  const { limits, politeness } = await fetchSettings(values.config, values['allow-private-network'] === true);
  const hostDelayMs = values['host-delay'] === undefined ? politeness.hostDelayMs : hostDelayOption(values['host-delay']);
  const inputs = await readUrls(positionals, values.file);
  const checked = inputs.map((input) => ({ input, check: normalizeUrl(input) }));
  const invalid = checked.filter((c) => !c.check.ok);
  if (invalid.length > 0) {
    throw new UsageError(invalid.map((c) => `not a URL we can fetch: "${c.input}" (${c.check.ok ? '' : c.check.reason})`).join('\n'));
  }
  const [{ politeSummarizer }, { ParsePool }] = await Promise.all([import('./polite-fetch.js'), import('../functions/core/parse/parse-pool.js')]);
  // Parsing here, V8's young generation is kept at its first size (1 MB semi-spaces) instead of growing to 16 or 32:
  // at concurrency 64 on one core, measured, 210-250 MB peak RSS instead of 300-330, for the same CPU time. (A V8
  // flag read whenever the young generation would grow, so it can be set now; the pool's workers keep their own.)
  if (parseThreads === 0) (await import('node:v8')).setFlagsFromString('--semi-space-growth-factor=1');
  const pool = parseThreads > 0 ? new ParsePool(parseThreads) : undefined;
  const summarize = politeSummarizer(limits, politeness, { hostDelayMs, robotsTxt: values['ignore-robots'] ? 'ignore' : 'obey' }, pool?.analyze);
  const limit = pLimit(concurrency);

  // Results print in input order as soon as every earlier one is done. A page that is slow holds back the lines of
  // every page after it, so what waits is each page's output line as bytes, made as soon as the page is summarized:
  // a Summary's strings may be slices of the page's whole decoded text, which would stay alive as long as they did.
  const pending = new Map<number, { line: Buffer; ok: boolean }>();
  const color = process.stdout.isTTY === true;
  let next = 0;
  let failed = 0;
  const flush = () => {
    while (pending.has(next)) {
      const { line, ok } = pending.get(next)!;
      pending.delete(next++);
      if (!ok) failed++;
      process.stdout.write(line);
    }
  };
  try {
    await Promise.all(
      checked.map((c, i) =>
        limit(async () => {
          const summary = await summarize((c.check as { url: string }).url);
          const line = values.json ? `${JSON.stringify(summary)}\n` : `${formatSummaryLine(summary, color)}\n`;
          pending.set(i, { line: Buffer.from(line), ok: summary.ok });
          flush();
        }),
      ),
    );
  } finally {
    await pool?.close();
  }
  if (!values.json) process.stderr.write(`${inputs.length} fetched, ${inputs.length - failed} ok, ${failed} failed\n`);
  return 0;
}

type Format = 'table' | 'json' | 'csv';
function format(value: string | undefined): Format {
  const f = value ?? 'table';
  if (f !== 'table' && f !== 'json' && f !== 'csv') throw new UsageError(`--format is table, json or csv, not "${f}"`);
  return f;
}

async function submitCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('submit', argv, {
    ...ENDPOINT_OPTIONS,
    ...WAIT_OPTIONS,
    'max-depth': { type: 'string' },
    'max-pages': { type: 'string' },
    'same-origin': { type: 'string' },
    include: { type: 'string', multiple: true },
    exclude: { type: 'string', multiple: true },
    sitemap: { type: 'string' },
    'ignore-robots': { type: 'boolean' },
    'host-delay': { type: 'string' },
    name: { type: 'string' },
    webhook: { type: 'string' },
    'webhook-event': { type: 'string', multiple: true },
    format: { type: 'string' },
    json: { type: 'boolean' },
    file: { type: 'string' },
  });
  if (values.help) return help('submit');
  if (values.json && values.wait) throw new UsageError('--json prints the answer to the submit, --wait the pages once the crawl completes; give one (--wait --format json prints the pages as JSON)');
  // Options first: a bare `--same-origin URL` takes the URL as its value, and "give at least one URL" would hide that.
  const maxDepth = values['max-depth'] === undefined ? undefined : Number(values['max-depth']);
  if (maxDepth !== undefined && !(Number.isInteger(maxDepth) && maxDepth >= 0)) throw new UsageError(`--max-depth must be a whole number ≥ 0, not "${values['max-depth']}"`);
  const maxPages = positiveInt('--max-pages', values['max-pages']);
  const sameOrigin = values['same-origin'];
  if (sameOrigin !== undefined && sameOrigin !== 'true' && sameOrigin !== 'false') {
    throw new UsageError(`--same-origin is true or false (--same-origin=false), not "${sameOrigin}"`);
  }
  const scope = scopeOptions(values);
  const labels = monitoringOptions(values);
  const urls = await readUrls(positionals, values.file);
  const pagesFormat = format(values.format);
  const timeoutMs = waitTimeoutMs(values);
  const request: CrawlRequestInput = {
    urls,
    ...(maxDepth !== undefined ? { maxDepth } : {}),
    ...(maxPages !== undefined ? { maxPages } : {}),
    ...(sameOrigin !== undefined ? { sameOrigin: sameOrigin === 'true' } : {}),
    ...scope,
    ...labels,
  };
  await checkCrawlRequest(request);
  const client = await clientFor(values);
  const result = await client.submit(request);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return EXIT.ok;
  }
  process.stderr.write(submitted(result));
  if (!values.wait) {
    process.stdout.write(`${result.crawlId}\n`);
    return EXIT.ok;
  }
  const watched = await watch(client, result.crawlId, timeoutMs);
  if (watched.end !== 'completed') return watched.exitCode;
  await printPages(client, result.crawlId, pagesFormat);
  return EXIT.ok;
}

/** The submit option that sets each field of the crawl request, to name it when the request is refused. */
const OPTION_OF_FIELD: Record<string, string> = {
  urls: 'URL', maxDepth: '--max-depth', maxPages: '--max-pages', sameOrigin: '--same-origin', include: '--include', exclude: '--exclude',
  robotsTxt: '--ignore-robots', sitemap: '--sitemap', hostDelayMs: '--host-delay', name: '--name', webhook: '--webhook',
};

/**
 * The request checked with the schema POST /crawls checks it with, so a value the API would refuse (a --max-depth
 * over 10, an --include pattern over 500 characters…) is bad usage here, said without sending anything.
 */
async function checkCrawlRequest(request: CrawlRequestInput): Promise<void> {
  const { crawlRequestSchema } = await import('../functions/core/model/crawl-request.js');
  const parsed = crawlRequestSchema.safeParse(request);
  if (parsed.success) return;
  const optionOf = ([field, sub]: readonly PropertyKey[]) => (field === 'webhook' && sub === 'events' ? '--webhook-event' : OPTION_OF_FIELD[String(field)] ?? String(field));
  throw new UsageError(parsed.error.issues.map((issue) => `${optionOf(issue.path)}: ${issue.message}`).join('; '));
}

/** The crawl request's scope and politeness fields from submit's options, each checked with a message naming it. */
function scopeOptions(values: {
  include?: string[] | undefined;
  exclude?: string[] | undefined;
  sitemap?: string | undefined;
  'ignore-robots'?: boolean | undefined;
  'host-delay'?: string | undefined;
}): Partial<CrawlRequestInput> {
  const request: Partial<CrawlRequestInput> = {};
  for (const option of ['include', 'exclude'] as const) {
    const patterns = values[option];
    if (patterns === undefined) continue;
    for (const pattern of patterns) {
      if (pattern === '') throw new UsageError(`--${option} needs a pattern, such as '**/blog/**'`);
      const problem = patternProblem(pattern);
      if (problem) throw new UsageError(`--${option} ${JSON.stringify(pattern)} ${problem}`);
    }
    request[option] = patterns;
  }
  const sitemap = values.sitemap;
  if (sitemap !== undefined) {
    if (sitemap !== 'skip' && sitemap !== 'include' && sitemap !== 'only') throw new UsageError(`--sitemap is skip, include or only, not "${sitemap}"`);
    request.sitemap = sitemap;
  }
  if (values['ignore-robots']) request.robotsTxt = 'ignore';
  const delay = values['host-delay'];
  if (delay !== undefined) request.hostDelayMs = hostDelayOption(delay);
  return request;
}

/** The crawl request's name and webhook from submit's options (the name's length is checked with the request). */
function monitoringOptions(values: { name?: string | undefined; webhook?: string | undefined; 'webhook-event'?: string[] | undefined }): Partial<CrawlRequestInput> {
  const request: Partial<CrawlRequestInput> = {};
  if (values.name !== undefined) request.name = values.name;
  const events = values['webhook-event'];
  if (events !== undefined && values.webhook === undefined) throw new UsageError('--webhook-event needs --webhook URL');
  if (values.webhook !== undefined) {
    if (!/^https?:\/\/[^/]/i.test(values.webhook) || !URL.canParse(values.webhook)) throw new UsageError(`--webhook must be an absolute http(s) URL, not "${values.webhook}"`);
    for (const event of events ?? []) {
      if (!(WEBHOOK_EVENTS as readonly string[]).includes(event)) throw new UsageError(`--webhook-event is ${WEBHOOK_EVENTS.join(' or ')}, not "${event}"`);
    }
    request.webhook = { url: values.webhook, ...(events ? { events: events as WebhookEvent[] } : {}) };
  }
  return request;
}

/** What the API did with the request, for a person: the counts, each refused URL and why, and any it could not queue. */
function submitted(result: SubmitResponse): string {
  const lines = [`crawl ${result.crawlId}: ${result.accepted} accepted, ${result.rejected.length} rejected`];
  for (const r of result.rejected) lines.push(`  rejected ${r.url}: ${r.reason}`);
  const unqueued = result.unqueued ?? 0;
  if (unqueued > 0) {
    lines.push(`  ${unqueued} of the ${result.accepted} accepted could not be queued: recorded as failed (ENQUEUE_FAILED); the crawl goes on with the rest`);
  }
  return lines.map((l) => `${l}\n`).join('');
}

type Watched =
  | { end: 'completed'; status: CrawlStatusView }
  | { end: 'interrupted' | 'timeout'; status: CrawlStatusView | undefined; exitCode: number };

/**
 * Shows a crawl's progress until it completes, until Ctrl-C, or until `timeoutMs` passes. The last two stop the
 * watching, not the crawl, which goes on in the cloud (or the local stack): the user is told where it stands and how
 * to pick it up again.
 */
async function watch(client: ApiClient, crawlId: string, timeoutMs?: number): Promise<Watched> {
  const interactive = process.stderr.isTTY === true;
  const progress = new Progress(process.stderr, interactive);
  let stopped: 'interrupted' | 'timeout' | undefined;
  // Stopping cancels a status request in flight and the wait for the next poll, so it takes effect at once.
  const abort = new AbortController();
  const stop = (why: 'interrupted' | 'timeout') => () => {
    stopped ??= why;
    abort.abort();
  };
  const onInterrupt = stop('interrupted');
  process.once('SIGINT', onInterrupt);
  const deadline = timeoutMs === undefined ? undefined : setTimeout(stop('timeout'), timeoutMs);
  let last: CrawlStatusView | undefined;
  try {
    while (!stopped) {
      const status = await client.status(crawlId, abort.signal).catch((err: unknown) => {
        if (stopped) return undefined;
        throw err;
      });
      if (!status) break;
      last = status;
      progress.update(status);
      // A cancelled crawl is done too once every URL has ended (its status stays cancelled).
      if (status.status === 'completed' || status.completedAt) return { end: 'completed', status };
      await sleep(interactive ? 500 : 1_000, undefined, { signal: abort.signal }).catch(() => undefined);
    }
    progress.end();
    process.stderr.write(`${stoppedWatching(crawlId, stopped!, last, timeoutMs)}\n`);
    return { end: stopped!, status: last, exitCode: stopped === 'timeout' ? EXIT.timeout : EXIT.interrupted };
  } finally {
    clearTimeout(deadline);
    progress.end();
    process.removeListener('SIGINT', onInterrupt);
  }
}

function stoppedWatching(crawlId: string, why: 'interrupted' | 'timeout', status: CrawlStatusView | undefined, timeoutMs?: number): string {
  const where = status
    ? `${status.succeeded + status.failed} of ${status.total} done (${status.succeeded} succeeded, ${status.failed} failed)`
    : 'no status read yet';
  const what = why === 'timeout' ? `Timed out after ${(timeoutMs ?? 0) / 1000} s; crawl ${crawlId} goes on: ${where}.` : `Stopped watching; crawl ${crawlId} goes on: ${where}.`;
  return `${what}\n  Watch it again: crawler status --wait ${crawlId}\n  Its pages:      crawler pages ${crawlId}`;
}

async function statusCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('status', argv, { ...ENDPOINT_OPTIONS, ...WAIT_OPTIONS });
  if (values.help) return help('status');
  if (positionals.length !== 1) throw new UsageError(`give exactly one CRAWL_ID\n\n${HELP['status']}`);
  const timeoutMs = waitTimeoutMs(values);
  const client = await clientFor(values);
  const crawlId = positionals[0]!;
  if (!values.wait) return printStatus(await client.status(crawlId), EXIT.ok);
  const watched = await watch(client, crawlId, timeoutMs);
  if (watched.end === 'completed') return printStatus(watched.status, EXIT.ok);
  // On a timeout, what is known is still this command's output: the crawl as last read, for a script to look at.
  if (watched.end === 'timeout' && watched.status) printStatus(watched.status, watched.exitCode);
  return watched.exitCode;
}

function printStatus(status: CrawlStatusView, exitCode: number): number {
  process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
  return exitCode;
}

async function pagesCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('pages', argv, { ...ENDPOINT_OPTIONS, format: { type: 'string' }, change: { type: 'string' } });
  if (values.help) return help('pages');
  const change = values.change;
  if (change !== undefined && change !== 'new' && change !== 'same' && change !== 'changed') throw new UsageError(`--change is new, same or changed, not "${change}"`);
  if (positionals.length !== 1) throw new UsageError(`give exactly one CRAWL_ID\n\n${HELP['pages']}`);
  const pagesFormat = format(values.format);
  await printPages(await clientFor(values), positionals[0]!, pagesFormat, change);
  return 0;
}

async function printPages(client: ApiClient, crawlId: string, format: Format, change?: Change): Promise<void> {
  let first = true;
  for await (const items of client.pages(crawlId, { change })) {
    if (format === 'json') for (const s of items) process.stdout.write(`${JSON.stringify(s)}\n`);
    else if (format === 'csv') process.stdout.write(toCsv(items, first));
    else process.stdout.write(toTable(items, first));
    first = false;
  }
}

async function listCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('list', argv, { ...ENDPOINT_OPTIONS, schedule: { type: 'string' }, format: { type: 'string' } });
  if (values.help) return help('list');
  if (positionals.length > 0) throw new UsageError(`list takes no arguments (did you mean --schedule ${positionals[0]}?)\n\n${HELP['list']}`);
  const listFormat = values.format ?? 'table';
  if (listFormat !== 'table' && listFormat !== 'json') throw new UsageError(`--format is table or json, not "${listFormat}"`);
  if (values.schedule === '') throw new UsageError('--schedule needs a schedule name');
  let first = true;
  for await (const items of (await clientFor(values)).crawls({ schedule: values.schedule })) {
    if (listFormat === 'json') for (const crawl of items) process.stdout.write(`${JSON.stringify(crawl)}\n`);
    else process.stdout.write(toCrawlTable(items, first));
    first = false;
  }
  return EXIT.ok;
}

async function cancelCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse('cancel', argv, { ...ENDPOINT_OPTIONS, json: { type: 'boolean' } });
  if (values.help) return help('cancel');
  if (positionals.length !== 1) throw new UsageError(`give exactly one CRAWL_ID\n\n${HELP['cancel']}`);
  const crawl = await (await clientFor(values)).cancel(positionals[0]!);
  if (values.json) return printStatus(crawl, EXIT.ok);
  const done = `${crawl.succeeded + crawl.failed} of ${crawl.total} ended (${crawl.succeeded} succeeded, ${crawl.failed} failed)`;
  const end = crawl.completedAt ? 'every URL has ended' : 'the URLs not fetched yet end as failed (CANCELLED); crawler status --wait follows it';
  process.stdout.write(`crawl ${crawl.crawlId} cancelled at ${crawl.cancelledAt ?? '?'}: ${done}; ${end}\n`);
  return EXIT.ok;
}

function help(command?: string): number {
  process.stdout.write(`${command ? HELP[command] : USAGE}\n`);
  return EXIT.ok;
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  fetch: fetchCommand,
  submit: submitCommand,
  status: statusCommand,
  pages: pagesCommand,
  list: listCommand,
  cancel: cancelCommand,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // Nothing asked is not a request for help: the usage goes where errors go, and the exit code says it was wrong.
  if (command === undefined) throw new UsageError(`give a command\n\n${USAGE}`);
  if (command === '--help' || command === '-h') return help();
  if (command === 'help') {
    const [topic, ...extra] = rest;
    if (topic === undefined) return help();
    if (!Object.hasOwn(COMMANDS, topic) || extra.length > 0) throw new UsageError(`usage: crawler help [${Object.keys(COMMANDS).join('|')}]`);
    return help(topic);
  }
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!run) throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
  return run(rest);
}

exitQuietlyOnBrokenPipe();
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`crawler: ${(err as Error).message ?? err}\n`);
    process.exitCode = err instanceof UsageError ? EXIT.usage : EXIT.failed;
  },
);
