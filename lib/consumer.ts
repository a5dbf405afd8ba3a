import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { CrawlerConfig } from './config.js';
import { CrawlerFunction } from './crawler-function.js';
import type { FunctionDefinition } from './function-definitions.js';

export interface ConsumerProps {
  readonly config: CrawlerConfig;
  readonly definition: FunctionDefinition;
  readonly queue: Queue;
  readonly table: ITable;
}

/**
 * The consumer Lambda on the page queue: partial batch failures, batching and concurrency from configuration.
 * The queue's visibility timeout is derived from the same timeout (lib/resources.ts), so it is always ≥ 6× it.
 */
export class Consumer extends Construct {
  readonly fn: CrawlerFunction;

  constructor(scope: Construct, id: string, props: ConsumerProps) {
    super(scope, id);
    const { consumer } = props.config;
    this.fn = new CrawlerFunction(this, 'Consume', { definition: props.definition, tracing: props.config.observability.tracing })
      .bindTable(props.table, props.config.retentionDays)
      // The consumer queues the links it follows onto its own queue.
      .bindQueueForSending(props.queue);
    this.fn.function.addEventSource(
      new SqsEventSource(props.queue, {
        batchSize: consumer.batchSize,
        maxBatchingWindow: Duration.seconds(consumer.maxBatchingWindowSeconds),
        maxConcurrency: consumer.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
  }
}
