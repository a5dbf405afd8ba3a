import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { CfnQueue, type IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { checkProps, integerIn } from './check-props.js';
import { CrawlerFunction } from './crawler-function.js';
import { turnEventSource, type FunctionDefinition } from './function-definitions.js';
import { VISIBILITY_TIMEOUT_FACTOR } from './resources.js';

export interface ConsumerProps {
  /** The consume function's definition; its maxConcurrency is the event source's maximumConcurrency (2 to 1000). */
  readonly definition: FunctionDefinition;
  /** The page queue: the consumer reads it, and queues the links it follows onto it. */
  readonly queue: IQueue;
  /** The turn queue: the consumer sends URLs there to wait for their host's turn, and reads them back from it. */
  readonly turnQueue: IQueue;
  readonly table: ITable;
  /** SQS records per invocation, 1 to 10,000. */
  readonly batchSize: number;
  /** Seconds Lambda gathers records before invoking, 0 to 300; at least 1 for batches over 10. */
  readonly maxBatchingWindowSeconds: number;
  readonly tracing?: boolean;
}

/**
 * The consumer Lambda on the page queue: partial batch failures, batching and concurrency from configuration; and on
 * the turn queue, where URLs wait for their host's turn, with the same batch size (its window at most a second:
 * turnEventSource) and concurrency. The queues' visibility timeouts are derived from the same timeout
 * (lib/resources.ts), so they are always ≥ 6× it.
 */
export class Consumer extends Construct {
  readonly function: CrawlerFunction;

  constructor(scope: Construct, id: string, props: ConsumerProps) {
    super(scope, id);
    const { definition, batchSize, maxBatchingWindowSeconds } = props;
    const maxConcurrency = definition.maxConcurrency ?? Number.NaN;
    const visibilityTimeout = (queue: IQueue) => {
      const resource = queue.node.defaultChild;
      const seconds = resource instanceof CfnQueue ? resource.visibilityTimeout : undefined;
      return typeof seconds === 'number' && seconds < VISIBILITY_TIMEOUT_FACTOR * definition.timeoutSeconds
        ? `the ${queue === props.queue ? 'queue' : 'turn queue'}'s visibility timeout (${seconds} s) must be at least ${VISIBILITY_TIMEOUT_FACTOR}× the function's timeout (${definition.timeoutSeconds} s)`
        : undefined;
    };
    checkProps(`Consumer ${id}`, [
      integerIn('batchSize', batchSize, 1, 10_000),
      integerIn('maxBatchingWindowSeconds', maxBatchingWindowSeconds, 0, 300),
      batchSize > 10 && maxBatchingWindowSeconds < 1 ? `a batchSize over 10 (${batchSize}) needs a maxBatchingWindowSeconds of at least 1 (a Lambda rule)` : undefined,
      integerIn('definition.maxConcurrency', maxConcurrency, 2, 1000),
      visibilityTimeout(props.queue),
      visibilityTimeout(props.turnQueue),
    ]);
    this.function = new CrawlerFunction(this, 'Consume', { definition, tracing: props.tracing })
      .bindTable(props.table)
      // The consumer queues the links it follows onto its own queue.
      .bindQueueForSending(props.queue)
      .bindTurnQueueForSending(props.turnQueue);
    this.function.addEventSource(
      new SqsEventSource(props.queue, {
        batchSize,
        maxBatchingWindow: Duration.seconds(maxBatchingWindowSeconds),
        maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
    const turns = turnEventSource({ batchSize, maxBatchingWindowSeconds });
    this.function.addEventSource(
      new SqsEventSource(props.turnQueue, {
        batchSize: turns.batchSize,
        maxBatchingWindow: Duration.seconds(turns.maxBatchingWindowSeconds),
        maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
  }
}
