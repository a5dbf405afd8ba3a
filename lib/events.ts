import { Duration, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { FilterCriteria, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption, type IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { checkProps, integerIn } from './check-props.js';
import { CrawlerFunction } from './crawler-function.js';
import { PUBLISH_EVENT_SOURCE, type FunctionDefinition } from './function-definitions.js';
import { queueProblems } from './queue.js';
import { publishFailureQueue } from './resources.js';

export interface CrawlEventsProps {
  /** The publish function's definition. */
  readonly definition: FunctionDefinition;
  /** The crawl table, with its stream. */
  readonly table: ITable;
  /** Where the deliveries for the crawls' webhooks go. */
  readonly webhookQueue: IQueue;
  readonly tracing?: boolean;
}

/**
 * The crawler's events: the publish function on the table's stream (only the records PUBLISH_EVENT_SOURCE's filters
 * match: completed crawls, changed pages), putting "Crawl Completed" and "Page Changed" on the account's default
 * EventBridge bus and queueing the webhook deliveries. A batch that fails is split and retried; a record that still
 * fails after the retries is described on the failure queue (which has an alarm) and the shard moves on.
 */
export class CrawlEvents extends Construct {
  readonly function: CrawlerFunction;
  /** The on-failure destination of the stream's event source. */
  readonly failureQueue: Queue;

  constructor(scope: Construct, id: string, props: CrawlEventsProps) {
    super(scope, id);
    const source = PUBLISH_EVENT_SOURCE;
    checkProps(`CrawlEvents ${id}`, [
      props.table.tableStreamArn === undefined ? 'the table has no stream (lib/store.ts sets it from lib/resources.ts)' : undefined,
      integerIn('batchSize', source.batchSize, 1, 10_000),
      integerIn('retryAttempts', source.retryAttempts, 0, 10_000),
      ...queueProblems('failureQueue', publishFailureQueue),
    ]);
    this.failureQueue = new Queue(this, 'FailureQueue', {
      retentionPeriod: Duration.seconds(publishFailureQueue.retentionSeconds),
      visibilityTimeout: Duration.seconds(publishFailureQueue.visibilityTimeoutSeconds),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    Validations.of(this.failureQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: "This queue is itself a dead-letter queue: the on-failure destination of the publish function's stream event source.",
    });

    this.function = new CrawlerFunction(this, 'Publish', { definition: props.definition, tracing: props.tracing })
      .bindTable(props.table)
      // The default bus: where AWS services' events go and users' rules look (no bus of our own to find).
      .bindEventBus(EventBus.fromEventBusName(this, 'DefaultBus', 'default'))
      .bindWebhookQueueForSending(props.webhookQueue);
    this.function.addEventSource(
      new DynamoEventSource(props.table, {
        // From the stream's oldest record: nothing written since the stream was created is missed.
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: source.batchSize,
        maxBatchingWindow: Duration.seconds(source.maxBatchingWindowSeconds),
        bisectBatchOnError: source.bisectBatchOnError,
        retryAttempts: source.retryAttempts,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(this.failureQueue),
        filters: source.filters.map((pattern) => FilterCriteria.filter(pattern)),
      }),
    );
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: "dynamodb:ListStreams, which Lambda's DynamoDB event source needs to find the stream, supports no resource-level permissions.",
    });
  }
}
