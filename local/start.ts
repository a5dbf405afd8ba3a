/**
 * `npm start`: the local stack in the foreground. PORT picks the API port (default 3000); the consumer's
 * allowPrivateNetwork switch (ALLOW_PRIVATE_NETWORK=true, functions/settings/consume.ts), passed on to the functions,
 * lets the crawler fetch loopback and private addresses (e.g. a site you serve on this machine);
 * `npm start -- --config FILE` takes the `crawler` settings of FILE (shaped like cdk.json) instead of ./cdk.json.
 */
import './quiet-sdk-notice.js';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FETCH_SETTINGS } from '../functions/settings/consume.js';
import { isOn } from '../functions/settings/setting.js';
import { CDK_JSON, ConfigFileError, readCrawlerConfig, type CrawlerConfig } from '../lib/config.js';
import { MissingJavaError } from './engines.js';
import { defaultMaxContainers, startLocalStack } from './stack.js';

const log = (line: string) => console.log(`[local] ${line}`);
const ALLOW_PRIVATE = `${FETCH_SETTINGS.allowPrivateNetwork.env}=true`;

const USAGE = `Usage: npm start [-- --config FILE] [--containers N]

Runs the local stack in the foreground; Ctrl-C stops it.

  --config FILE   the "crawler" settings of FILE, a file shaped like cdk.json ({"context": {"crawler": {…}}}),
                  instead of the repository's cdk.json
  --containers N  containers per function at most (default: two per core, at least 4); each function still runs
                  no more than its own concurrency (consumer.maxConcurrency for the consumer)

Environment: PORT (the API port, default 3000), ${ALLOW_PRIVATE} (crawl loopback and private hosts, and deliver webhooks
to them), WEBHOOK_SECRET (the key webhook deliveries are signed with; default a new random one, printed at start).`;

/** Bad usage or configuration: the message, and exit 2. */
class StartError extends Error {}

function commandLine(argv: string[]): { config?: string | undefined; containers?: string | undefined; help?: boolean | undefined } {
  try {
    return parseArgs({ args: argv, options: { config: { type: 'string' }, containers: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true }).values;
  } catch (err) {
    throw new StartError(`${(err as Error).message}\n\n${USAGE}`);
  }
}

/**
 * The `crawler` settings of a cdk.json-shaped file. A file named with --config is relative to where `npm start` was
 * typed (npm runs the script in the package's directory and says where it came from in INIT_CWD).
 */
function loadConfig(file: string | undefined): { config: CrawlerConfig; path: string } {
  const path = file === undefined ? CDK_JSON : resolve(process.env['INIT_CWD'] ?? process.cwd(), file);
  const shown = file ?? relative(process.cwd(), path);
  try {
    return { config: readCrawlerConfig(path, shown), path: shown };
  } catch (err) {
    throw err instanceof ConfigFileError ? new StartError(err.message) : err;
  }
}

async function main(): Promise<void> {
  const args = commandLine(process.argv.slice(2));
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const portText = process.env['PORT'] ?? '3000';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new StartError(`PORT must be a port number (0-65535), not "${portText}"`);
  const { config, path: configPath } = loadConfig(args.config);
  const maxContainers = args.containers === undefined ? defaultMaxContainers() : Number(args.containers);
  if (!Number.isInteger(maxContainers) || maxContainers < 1) throw new StartError(`--containers must be a whole number of at least 1, not "${args.containers}"\n\n${USAGE}`);
  log('starting DynamoDB Local and the SQS server…');
  const stack = await startLocalStack({ config, port, log, schedules: true, maxContainers });

  const allowPrivate = isOn(FETCH_SETTINGS.allowPrivateNetwork);
  console.log(`
serverless-crawler local stack ready in ${(stack.startupMs / 1000).toFixed(1)} s
  config    ${configPath}
  API       ${stack.apiUrl}
  DynamoDB  ${stack.dynamodbEndpoint}  table ${stack.resources.tableName}
  SQS       ${stack.sqsEndpoint}  queue ${stack.resources.queueUrl}
            turn queue ${stack.resources.turnQueueUrl} (URLs waiting for their host's turn)
            dead-letter queue ${stack.resources.deadLetterQueueUrl}
            webhook deliveries ${stack.resources.webhookQueueUrl}
  events    EventBridge stand-in ${stack.eventBus.endpoint} (each event is printed here as one line)
  webhooks  signing secret ${stack.webhookSecret}${process.env['WEBHOOK_SECRET'] ? ' (WEBHOOK_SECRET)' : ' (generated: set WEBHOOK_SECRET to choose it)'}; retry base ${config.webhooks.retryBaseSeconds} s
  consumer  batch ${config.consumer.batchSize}, window ${config.consumer.maxBatchingWindowSeconds}s, ${config.consumer.pageConcurrency} pages at once, up to ${stack.consumerContainers} containers for each of its queues (maxConcurrency ${config.consumer.maxConcurrency}${stack.consumerContainers < config.consumer.maxConcurrency ? `, capped at ${maxContainers} on this machine: --containers N` : ''})
  retries   ${config.queue.maxReceiveCount} attempts, backoff ${config.retry.baseDelaySeconds}-${config.retry.maxDelaySeconds} s; fetch deadline ${config.fetch.timeoutMs} ms; reconciler after ${config.reconcile.afterSeconds} s quiet, ${config.reconcile.maxRequeues} requeues
  network   ${allowPrivate ? `private and loopback addresses ALLOWED (${ALLOW_PRIVATE})` : `public addresses only (set ${ALLOW_PRIVATE} to crawl loopback or private hosts)`}
  schedules ${stack.scheduler?.planned.length ? stack.scheduler.planned.map((p) => `${p.name} next ${p.next?.toISOString() ?? 'never'}`).join(', ') : 'none enabled'}

Try it:
  curl -s -X POST ${stack.apiUrl}/crawls -H 'content-type: application/json' -d '{"urls":["https://example.com/"]}'
  curl -s ${stack.apiUrl}/crawls/<crawlId>
  curl -s ${stack.apiUrl}/crawls/<crawlId>/pages

Ctrl-C stops everything.`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      // A second Ctrl-C does not wait for the orderly stop; the engines' watchdog still stops DynamoDB Local.
      log(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    log(`${signal}: stopping…`);
    await stack.stop();
    log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // `kill -9` of `npm start` itself would leave this process (and the shell and tsx between) running, holding the
  // port: stop with npm. (This process's own end, however it comes, stops DynamoDB Local through its watchdog.)
  const launchers = npmLaunchers();
  if (launchers.length > 0) {
    const watching = setInterval(() => {
      // Already stopping (a Ctrl-C on the terminal reaches npm too, and npm may end first): let that stop finish.
      if (stopping || !launchers.some((pid) => !isAlive(pid))) return;
      clearInterval(watching);
      void shutdown('npm start is gone');
    }, 500).unref();
  }
}

/** A process's parent and command line, from /proc where there is one, else from ps; undefined if it is gone. */
function processInfo(pid: number): { ppid: number; args: string } | undefined {
  try {
    if (existsSync('/proc/self/stat')) {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      return { ppid, args: readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim() };
    }
    const ps = spawnSync('ps', ['-o', 'ppid=', '-o', 'args=', '-p', String(pid)], { encoding: 'utf8' });
    const match = /^\s*(\d+)\s+(.*)$/.exec(ps.stdout.trim());
    return match ? { ppid: Number(match[1]), args: match[2]! } : undefined;
  } catch {
    return undefined;
  }
}

/** The processes from this one's parent up to the `npm` that started it (npm, sh, tsx); [] when npm did not. */
function npmLaunchers(): number[] {
  const chain: number[] = [];
  for (let pid = process.ppid; chain.length < 5 && pid > 1; ) {
    const info = processInfo(pid);
    if (!info) return [];
    chain.push(pid);
    if (/^npm( |$)|(^|\/)npm(-cli\.js)? /.test(info.args)) return chain;
    pid = info.ppid;
  }
  return [];
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

main().catch((err: unknown) => {
  if (err instanceof StartError) {
    console.error(`npm start: ${err.message}`);
    process.exit(2);
  }
  if (err instanceof MissingJavaError) console.error(err.message);
  else console.error(`The local stack could not start: ${(err as Error).message}`);
  process.exit(1);
});
