import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { CrawlerConfig } from '../lib/config.js';
import { ENV } from '../functions/env.js';
import { consumerEnvironment, crawlQueues } from '../lib/resources.js';
import { startApiServer, type ApiHandler } from './api-server.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal, startSqsServer, type RunningEngine } from './engines.js';
import { startEventSource, type RunningEventSource, type SqsHandler } from './event-source.js';
import { provision, type ProvisionedResources } from './provision.js';
import { startScheduler, type RunningScheduler, type ScheduleHandler } from './scheduler.js';

export interface LocalStackOptions {
  config: CrawlerConfig;
  /** API port; 0 picks a free one. */
  port: number;
  log?: (line: string) => void;
  /** Run the enabled schedules (npm start does; tests usually do not). */
  schedules?: boolean;
}

export interface LocalStack {
  apiUrl: string;
  dynamodbEndpoint: string;
  sqsEndpoint: string;
  resources: ProvisionedResources;
  eventSource: RunningEventSource;
  scheduler: RunningScheduler | null;
  /** Milliseconds from the call to ready. */
  startupMs: number;
  stop(): Promise<void>;
}

/**
 * The whole pipeline on this machine: DynamoDB Local and an SQS server as real engines, the table and queues created
 * from lib/resources.ts, the real handlers behind a local API server, an SQS event source feeding the consumer, and
 * the schedules. The handlers are the deployed code unchanged: only their environment differs (endpoints, names).
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const { config } = options;
  const stops: (() => Promise<void> | void)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop();
  };

  try {
    const [dynamodb, sqs]: RunningEngine[] = await Promise.all([startDynamoDbLocal(), startSqsServer()]);
    stops.push(() => dynamodb!.stop(), () => sqs!.stop());

    const clientConfig = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
    const ddbClient = new DynamoDBClient({ ...clientConfig, endpoint: dynamodb!.endpoint });
    const sqsClient = new SQSClient({ ...clientConfig, endpoint: sqs!.endpoint });
    stops.push(() => ddbClient.destroy(), () => sqsClient.destroy());
    const resources = await provision({ dynamodb: ddbClient, sqs: sqsClient }, config);

    // The environment the CDK constructs give the functions, pointed at the local engines.
    Object.assign(process.env, {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: dynamodb!.endpoint,
      AWS_ENDPOINT_URL_SQS: sqs!.endpoint,
      [ENV.tableName]: resources.tableName,
      [ENV.queueUrl]: resources.queueUrl,
      [ENV.retentionDays]: String(config.retentionDays),
      ...consumerEnvironment(config),
      // No CloudWatch here: metrics would only be EMF noise on stdout.
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    process.env['POWERTOOLS_LOG_LEVEL'] ??= 'WARN';
    // The same Powertools JSON logs as in Lambda, indented for a person when they go to a terminal.
    if (process.stdout.isTTY) process.env['POWERTOOLS_DEV'] ??= 'true';
    // Imported only now: handlers read their environment once, at module load, as on a Lambda cold start.
    const [submit, read, consume] = await Promise.all([
      import('../functions/handlers/submit.js'),
      import('../functions/handlers/read.js'),
      import('../functions/handlers/consume.js'),
    ]);

    const activity = { batches: 0, records: 0, failures: 0 };
    const eventSource = startEventSource({
      sqs: sqsClient,
      queueUrl: resources.queueUrl,
      queueArn: resources.queueArn,
      region: LOCAL_REGION,
      handler: consume.handler as SqsHandler,
      functionName: 'serverless-crawler-consume',
      batchSize: config.consumer.batchSize,
      maxBatchingWindowSeconds: config.consumer.maxBatchingWindowSeconds,
      maxConcurrency: config.consumer.maxConcurrency,
      functionTimeoutSeconds: config.consumer.timeoutSeconds,
      visibilityTimeoutSeconds: crawlQueues(config).queue.visibilityTimeoutSeconds,
      onBatch: ({ records, failures, error }) => {
        activity.batches++;
        activity.records += records;
        activity.failures += failures;
        if (error) log(`consumer batch failed: ${(error as Error).message}`);
      },
    });
    stops.push(() => eventSource.stop());
    // One line every 2 s while the consumer works, instead of one per batch.
    const ticker = setInterval(() => {
      if (activity.records === 0) return;
      const retry = activity.failures > 0 ? `, ${activity.failures} left for retry` : '';
      log(`consumer: ${activity.records} messages in ${activity.batches} batches${retry}`);
      Object.assign(activity, { batches: 0, records: 0, failures: 0 });
    }, 2_000);
    ticker.unref();
    stops.push(() => clearInterval(ticker));

    const api = await startApiServer(
      { submit: submit.handler as ApiHandler, read: read.handler },
      {
        port: options.port,
        onError: (err) => log(`API handler crashed: ${(err as Error).stack ?? err}`),
        onRequest: (line) => log(line),
      },
    );
    stops.push(() => api.stop());

    const scheduler = options.schedules ? startScheduler(config.schedules, submit.handler as ScheduleHandler, log) : null;
    if (scheduler) stops.push(() => scheduler.stop());

    return {
      apiUrl: api.url,
      dynamodbEndpoint: dynamodb!.endpoint,
      sqsEndpoint: sqs!.endpoint,
      resources,
      eventSource,
      scheduler,
      startupMs: Date.now() - started,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
