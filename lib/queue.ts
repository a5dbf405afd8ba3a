import { Duration, Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { checkProps, integerIn } from './check-props.js';
import type { PageQueuesDefinition, QueueDefinition, QueuePairDefinition } from './resources.js';

/** The page queue, its dead-letter queue and the turn queue as lib/resources.ts's crawlQueues defines them (the local stack's too). */
export type PageQueueProps = PageQueuesDefinition;

/** A queue and its dead-letter queue as lib/resources.ts defines them, and what the queue is for (said in the DLQ's nag acknowledgement). */
export interface DeadLetteredQueueProps extends QueuePairDefinition {
  /** What the queue is, e.g. "the page queue". */
  readonly purpose: string;
}

/** SQS's limits on a queue's settings, in seconds. */
export function queueProblems(name: string, def: QueueDefinition): (string | undefined)[] {
  return [
    integerIn(`${name}.visibilityTimeoutSeconds`, def.visibilityTimeoutSeconds, 0, 43_200),
    integerIn(`${name}.retentionSeconds`, def.retentionSeconds, 60, 1_209_600),
    integerIn(`${name}.receiveWaitTimeSeconds`, def.receiveWaitTimeSeconds, 0, 20),
  ];
}

/** A queue and its dead-letter queue (by redrive policy), encrypted and TLS-only. */
export class DeadLetteredQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  private readonly maxReceiveCount: number;

  constructor(scope: Construct, id: string, props: DeadLetteredQueueProps) {
    super(scope, id);
    checkProps(`${new.target.name} ${id}`, [
      ...queueProblems('queue', props.queue),
      ...queueProblems('deadLetterQueue', props.deadLetterQueue),
      integerIn('maxReceiveCount', props.maxReceiveCount, 1, 1000),
    ]);
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      retentionPeriod: Duration.seconds(props.deadLetterQueue.retentionSeconds),
      visibilityTimeout: Duration.seconds(props.deadLetterQueue.visibilityTimeoutSeconds),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: `This queue is itself the dead-letter queue of ${props.purpose}.`,
    });
    this.maxReceiveCount = props.maxReceiveCount;
    this.queue = this.deadLettered('Queue', props.queue);
  }

  /** A queue as `def` says, encrypted and TLS-only, that dead-letters to this DLQ after the same number of receives. */
  protected deadLettered(id: string, def: QueueDefinition): Queue {
    return new Queue(this, id, {
      visibilityTimeout: Duration.seconds(def.visibilityTimeoutSeconds),
      retentionPeriod: Duration.seconds(def.retentionSeconds),
      receiveMessageWaitTime: Duration.seconds(def.receiveWaitTimeSeconds),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: this.maxReceiveCount },
    });
  }
}

/**
 * The page queue, its dead-letter queue, and the turn queue: URLs waiting for their host's turn, which come back for
 * their slots ahead of the page queue's backlog (lib/resources.ts). Both queues dead-letter to the one DLQ.
 */
export class PageQueue extends DeadLetteredQueue {
  readonly turnQueue: Queue;

  constructor(scope: Construct, id: string, props: PageQueueProps) {
    super(scope, id, { ...props, purpose: 'the page queue and the turn queue' });
    checkProps(`${new.target.name} ${id}`, queueProblems('turnQueue', props.turnQueue));
    this.turnQueue = this.deadLettered('TurnQueue', props.turnQueue);
  }
}
