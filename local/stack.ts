import { availableParallelism } from 'node:os';
import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { CrawlerConfig } from '../lib/config.js';
import type { ReconcileReport } from '../functions/core/crawl/reconcile.js';
import { resourceEnvironment, switchVariables } from '../functions/settings/setting.js';
import { HANDLER_FILES } from '../lib/bundling.js';
import { BASE_ENVIRONMENT, functionDefinitions, PUBLISH_EVENT_SOURCE, RECONCILE_EVENT, turnEventSource, type CrawlerFunctionName, type SqsBatching } from '../lib/function-definitions.js';
import { crawlQueues, webhookQueues, type QueueDefinition } from '../lib/resources.js';
import { startApiServer } from './api-server.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal, startSqsServer } from './engines.js';
import { startEventBus, type ReceivedEvent, type RunningEventBus } from './event-bus.js';
import { startEventSource, type RunningEventSource } from './event-source.js';
import { startStreamSource, type RunningStreamSource } from './stream-source.js';
import { buildFunctionBundles, LocalFunction } from './lambda-runtime.js';
import { provision, type ProvisionedResources } from './provision.js';
import { startScheduler, type RunningScheduler } from './scheduler.js';

export interface LocalStackOptions {
  config: CrawlerConfig;
  /** API port; 0 picks a free one. */
  port: number;
  log?: (line: string) => void;
  /** Run the enabled schedules (npm start does; tests usually do not). */
  schedules?: boolean;
  /** How often the reconciler runs (its rule's rate, a minute); 0 runs it only when `reconcile()` is called. */
  reconcileEveryMs?: number;
  /** Containers per function at most, whatever its concurrency (default: defaultMaxContainers()). */
  maxContainers?: number;
  /** The key webhook deliveries are signed with (default: WEBHOOK_SECRET from the environment, else a new random one). */
  webhookSecret?: string;
}

/**
 * Containers per function (per event source, for the consume function) on this machine: two per core, at least four.
 * Lambda gives every container its own CPU; here they share this machine's cores, and past about two per core they
 * only slow each other down (`npm run bench -- stack` measures it).
 */
export function defaultMaxContainers(): number {
  return Math.max(4, 2 * availableParallelism());
}

/** The consume function's SQS event sources (lib/consumer.ts): the page queue and the turn queue. */
const CONSUMER_EVENT_SOURCES = 2;

/** Containers per API function: Lambda's unreserved concurrency, scaled to a laptop. */
const API_FUNCTION_CONCURRENCY = 10;

export interface LocalStack {
  apiUrl: string;
  dynamodbEndpoint: string;
  sqsEndpoint: string;
  resources: ProvisionedResources;
  eventSource: RunningEventSource;
  /** The table's stream feeding the publish function. */
  streamSource: RunningStreamSource;
  /** EventBridge's stand-in: the events the publish function put. */
  eventBus: RunningEventBus;
  /** The key webhook deliveries are signed with. */
  webhookSecret: string;
  scheduler: RunningScheduler | null;
  /**
   * Consumer containers at most for each of its event sources (its maxConcurrency, capped by maxContainers): the page
   * queue's, and as many again for the turn queue's.
   */
  consumerContainers: number;
  /** The functions, each running in its own containers. */
  functions: Record<CrawlerFunctionName, LocalFunction>;
  /** Runs one reconciler pass now (as its schedule does) and returns its report. */
  reconcile(): Promise<ReconcileReport>;
  /** Milliseconds from the call to ready. */
  startupMs: number;
  stop(): Promise<void>;
}

/**
 * The whole pipeline on this machine: DynamoDB Local and an SQS server as real engines, the table and queues created
 * from lib/resources.ts, and each function of lib/function-definitions.ts run as Lambda runs it (its own bundle,
 * environment, memory, timeout and containers; see lambda-runtime.ts) behind a local API server, an SQS event source,
 * the schedules and the reconciler's one-minute rule. Only the endpoints in the functions' environment differ from AWS.
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
    const [dynamodb, sqs, eventBus, bundles] = await Promise.all([
      startDynamoDbLocal(),
      startSqsServer(),
      startEventBus({ onEvent: (event) => log(eventLine(event)) }),
      buildFunctionBundles(HANDLER_FILES),
    ]);
    stops.push(() => dynamodb.stop(), () => sqs.stop(), () => eventBus.stop(), () => bundles.remove());
    const webhookSecret = options.webhookSecret ?? process.env['WEBHOOK_SECRET'] ?? randomBytes(32).toString('hex');

    const clientConfig = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
    const ddbClient = new DynamoDBClient({ ...clientConfig, endpoint: dynamodb.endpoint });
    const sqsClient = new SQSClient({ ...clientConfig, endpoint: sqs.endpoint });
    const streamsClient = new DynamoDBStreamsClient({ ...clientConfig, endpoint: dynamodb.endpoint });
    stops.push(() => ddbClient.destroy(), () => sqsClient.destroy(), () => streamsClient.destroy());
    const resources = await provision({ dynamodb: ddbClient, sqs: sqsClient }, config);

    // Each function in its own containers, from its bundle, with the environment the CDK stack gives it, pointed at
    // the local engines. Nothing else of this process's environment reaches a function, except the documented
    // switches a user sets for the local stack.
    const local: Record<string, string> = {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: eventBus.endpoint,
      // Nor does your ~/.aws profile (retry modes, regions, credentials): a function sees only what Lambda gives it.
      AWS_CONFIG_FILE: '/nonexistent/serverless-crawler/aws-config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/serverless-crawler/aws-credentials',
      // No CloudWatch here: metrics would only be EMF noise on stdout.
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: process.env['POWERTOOLS_LOG_LEVEL'] ?? 'WARN',
      // The same Powertools JSON logs as in Lambda, indented for a person when they go to a terminal.
      ...(process.stdout.isTTY || process.env['POWERTOOLS_DEV'] ? { POWERTOOLS_DEV: process.env['POWERTOOLS_DEV'] ?? 'true' } : {}),
    };
    const definitions = functionDefinitions(config);
    const maxContainers = options.maxContainers ?? defaultMaxContainers();
    // Per event source: on AWS each of the consume function's two event source mappings (the page queue's and the turn
    // queue's) has its own maximumConcurrency, so a batch back from the turn queue never waits for one of the page queue's.
    // Here the consume function gets one pool of twice that, and each event source keeps at most half of it busy (its
    // pollers, below): the split holds as long as nothing else invokes the function while both are busy.
    const perSource = (def: { maxConcurrency?: number }) => Math.min(def.maxConcurrency ?? API_FUNCTION_CONCURRENCY, maxContainers);
    const fns = Object.fromEntries(
      Object.entries(definitions).map(([name, def]) => {
        const functionName = `serverless-crawler-${name}`;
        const fn = new LocalFunction({
          name: functionName,
          bundle: bundles.files[def.handlerFile]!,
          environment: {
            ...BASE_ENVIRONMENT,
            ...def.environment,
            ...resourceEnvironment(def.settings, {
              table: resources.tableName,
              queue: resources.queueUrl,
              turnQueue: resources.turnQueueUrl,
              webhookQueue: resources.webhookQueueUrl,
              eventBus: 'default',
              // No Secrets Manager here: the deliver function takes a value that is not an ARN as the key itself.
              secret: webhookSecret,
            }),
            // The safety switches a function reads (functions/settings/), as you set them for the local stack.
            ...Object.fromEntries(switchVariables(def.settings).flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : []))),
            AWS_LAMBDA_FUNCTION_NAME: functionName,
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(def.memorySize),
            ...local,
          },
          memorySize: def.memorySize,
          timeoutSeconds: def.timeoutSeconds,
          maxConcurrency: perSource(def) * (name === 'consume' ? CONSUMER_EVENT_SOURCES : 1),
        });
        stops.push(() => fn.stop());
        return [name, fn];
      }),
    ) as Record<CrawlerFunctionName, LocalFunction>;

    const activity = { batches: 0, records: 0, failures: 0 };
    const onConsumerBatch = ({ records, failures, error }: { records: number; failures: number; error?: unknown }) => {
      activity.batches++;
      activity.records += records;
      activity.failures += failures;
      if (error) log(`consumer batch failed: ${(error as Error).message}`);
    };
    const queues = crawlQueues(config);
    // The consume function's two event sources, as on AWS (lib/consumer.ts): the page queue, and the turn queue of URLs
    // back for their host's turn (turnEventSource). Each keeps at most its maximumConcurrency of batches in hand, capped
    // here by maxContainers, and the function has that many containers for each.
    const consumerContainers = perSource(definitions.consume);
    const consumerSource = (queueUrl: string, queueArn: string, queue: QueueDefinition, batching: SqsBatching) =>
      startEventSource({
        sqs: sqsClient,
        queueUrl,
        queueArn,
        region: LOCAL_REGION,
        invoke: (event) => fns.consume.invoke(event),
        ...batching,
        maxConcurrency: consumerContainers,
        visibilityTimeoutSeconds: queue.visibilityTimeoutSeconds,
        onBatch: onConsumerBatch,
      });
    const eventSource = consumerSource(resources.queueUrl, resources.queueArn, queues.queue, config.consumer);
    const turnSource = consumerSource(resources.turnQueueUrl, resources.turnQueueArn, queues.turnQueue, turnEventSource(config.consumer));
    stops.push(() => eventSource.stop(), () => turnSource.stop());
    // One line every 2 s while the consumer works, instead of one per batch.
    const ticker = setInterval(() => {
      if (activity.records === 0) return;
      const retry = activity.failures > 0 ? `, ${activity.failures} left for retry` : '';
      log(`consumer: ${activity.records} messages in ${activity.batches} batches${retry}`);
      Object.assign(activity, { batches: 0, records: 0, failures: 0 });
    }, 2_000);
    ticker.unref();
    stops.push(() => clearInterval(ticker));

    // The publish function on the table's stream, as its event source mapping on AWS (lib/events.ts) feeds it.
    const streamSource = startStreamSource({
      streams: streamsClient,
      streamArn: resources.streamArn,
      region: LOCAL_REGION,
      invoke: (event) => fns.publish.invoke(event),
      ...PUBLISH_EVENT_SOURCE,
      onFailure: async (failure) => {
        log(`publish gave up on stream records ${failure.DDBStreamBatchInfo.startSequenceNumber}…${failure.DDBStreamBatchInfo.endSequenceNumber}: described on the failure queue`);
        await sqsClient.send(new SendMessageCommand({ QueueUrl: resources.publishFailureQueueUrl, MessageBody: JSON.stringify(failure) }));
      },
      onBatch: ({ failures, error }) => {
        if (error) log(`publish batch failed: ${(error as Error).message}`);
        else if (failures > 0) log(`publish: ${failures} stream records left for retry`);
      },
    });
    stops.push(() => streamSource.stop());

    // The deliver function on the webhook delivery queue, as its SQS event source on AWS (lib/webhooks.ts).
    const webhookSource = startEventSource({
      sqs: sqsClient,
      queueUrl: resources.webhookQueueUrl,
      queueArn: resources.webhookQueueArn,
      region: LOCAL_REGION,
      invoke: (event) => fns.deliver.invoke(event),
      batchSize: config.webhooks.batchSize,
      maxBatchingWindowSeconds: 0,
      maxConcurrency: fns.deliver.options.maxConcurrency,
      visibilityTimeoutSeconds: webhookQueues().queue.visibilityTimeoutSeconds,
      onBatch: ({ error }) => {
        if (error) log(`deliver batch failed: ${(error as Error).message}`);
      },
    });
    stops.push(() => webhookSource.stop());

    const api = await startApiServer(
      { submit: (event) => fns.submit.invoke(event), read: (event) => fns.read.invoke(event) },
      {
        port: options.port,
        onError: (err) => log(`API handler crashed: ${(err as Error).stack ?? err}`),
        onRequest: (line) => log(line),
      },
    );
    stops.push(() => api.stop());

    const scheduler = options.schedules ? startScheduler(config.schedules, (event) => fns.submit.invoke(event), log) : null;
    if (scheduler) stops.push(() => scheduler.stop());

    // The reconciler's EventBridge rule: every minute (the next pass is planned when one ends, so a slow pass does not
    // pile invocations up behind the function's one container).
    const reconcile = async () => {
      const result = await fns.reconcile.invoke<ReconcileReport>(RECONCILE_EVENT);
      if (result.requeued > 0 || result.failed > 0 || result.errors > 0 || (result.stalled > 0 && result.backlog > 0)) log(`reconciler: ${JSON.stringify(result)}`);
      return result;
    };
    const reconcileEveryMs = options.reconcileEveryMs ?? 60_000;
    let reconciler: NodeJS.Timeout | undefined;
    let stopped = false;
    const planReconcile = () => {
      if (stopped || reconcileEveryMs <= 0) return;
      reconciler = setTimeout(() => {
        reconcile()
          .catch((err: Error) => log(`reconciler failed: ${err.message}`))
          .finally(planReconcile);
      }, reconcileEveryMs);
      reconciler.unref();
    };
    planReconcile();
    stops.push(() => {
      stopped = true;
      clearTimeout(reconciler);
    });

    return {
      apiUrl: api.url,
      dynamodbEndpoint: dynamodb.endpoint,
      sqsEndpoint: sqs.endpoint,
      resources,
      eventSource,
      streamSource,
      eventBus,
      webhookSecret,
      scheduler,
      functions: fns,
      consumerContainers,
      reconcile,
      startupMs: Date.now() - started,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** One line of the `npm start` output per event put on the bus. */
function eventLine(event: ReceivedEvent): string {
  const detail = event.detail as { crawlId?: string; url?: string; status?: string; succeeded?: number; failed?: number; changedFields?: string[] };
  const what =
    event.detailType === 'Page Changed'
      ? `${detail.url} (${detail.changedFields?.join(', ') ?? ''})`
      : event.detailType === 'Crawl Completed'
        ? `${detail.status}, ${detail.succeeded} succeeded, ${detail.failed} failed`
        : JSON.stringify(detail).slice(0, 200);
  return `event ${event.detailType}: crawl ${detail.crawlId ?? '?'} ${what}`;
}
