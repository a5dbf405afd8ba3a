/**
 * `npm start`: the local stack in the foreground. PORT picks the API port (default 3000); ALLOW_PRIVATE_NETWORK=true
 * lets the crawler fetch loopback and private addresses (e.g. a site you serve on this machine).
 */
import './quiet-sdk-notice.js';
import { readCrawlerConfig } from '../lib/config.js';
import { MissingJavaError } from './engines.js';
import { startLocalStack } from './stack.js';

const log = (line: string) => console.log(`[local] ${line}`);

async function main(): Promise<void> {
  const portText = process.env['PORT'] ?? '3000';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`PORT must be a port number (0-65535), not "${portText}"`);
    process.exit(2);
  }
  const config = readCrawlerConfig();
  log('starting DynamoDB Local and the SQS server…');
  const stack = await startLocalStack({ config, port, log, schedules: true });

  const allowPrivate = process.env['ALLOW_PRIVATE_NETWORK'] === 'true';
  console.log(`
serverless-crawler local stack ready in ${(stack.startupMs / 1000).toFixed(1)} s
  API       ${stack.apiUrl}
  DynamoDB  ${stack.dynamodbEndpoint}  table ${stack.resources.tableName}
  SQS       ${stack.sqsEndpoint}  queue ${stack.resources.queueUrl}
  consumer  batch ${config.consumer.batchSize}, window ${config.consumer.maxBatchingWindowSeconds}s, concurrency ${config.consumer.maxConcurrency}, ${config.consumer.pageConcurrency} pages at once
  network   ${allowPrivate ? 'private and loopback addresses ALLOWED (ALLOW_PRIVATE_NETWORK=true)' : 'public addresses only (set ALLOW_PRIVATE_NETWORK=true to crawl loopback or private hosts)'}
  schedules ${stack.scheduler?.planned.length ? stack.scheduler.planned.map((p) => `${p.name} next ${p.next?.toISOString() ?? 'never'}`).join(', ') : 'none enabled'}

Try it:
  curl -s -X POST ${stack.apiUrl}/crawls -H 'content-type: application/json' -d '{"urls":["https://example.com/"]}'
  curl -s ${stack.apiUrl}/crawls/<crawlId>
  curl -s ${stack.apiUrl}/crawls/<crawlId>/pages

Ctrl-C stops everything.`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping…`);
    await stack.stop();
    log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  if (err instanceof MissingJavaError) console.error(err.message);
  else console.error(`The local stack could not start: ${(err as Error).message}`);
  process.exit(1);
});
