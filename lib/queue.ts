import { Duration } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { CrawlerConfig } from './config.js';
import { crawlQueues } from './resources.js';

/** The page queue and its dead-letter queue (by redrive policy), encrypted and TLS-only, from the shared definition. */
export class PageQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: { readonly config: CrawlerConfig }) {
    super(scope, id);
    const def = crawlQueues(props.config);
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      retentionPeriod: Duration.seconds(def.deadLetterQueue.retentionSeconds),
      visibilityTimeout: Duration.seconds(def.deadLetterQueue.visibilityTimeoutSeconds),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.queue = new Queue(this, 'Queue', {
      visibilityTimeout: Duration.seconds(def.queue.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(def.queue.retentionSeconds),
      receiveMessageWaitTime: Duration.seconds(def.queue.receiveWaitTimeSeconds),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: def.maxReceiveCount },
    });
  }
}
