import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CrawlerFunction } from './crawler-function.js';
import { RECONCILE_EVENT, type FunctionDefinition } from './function-definitions.js';

export interface ReconcilerProps {
  /** The reconcile function's definition. */
  readonly definition: FunctionDefinition;
  readonly table: ITable;
  /** Where the lost URLs are queued again. */
  readonly pageQueue: IQueue;
  /** The turn queue, whose backlog counts as the page queue's does (a crawl behind a backlog is waiting, not lost). */
  readonly turnQueue: IQueue;
  readonly tracing?: boolean;
}

/**
 * The reconciler (functions/core/crawl/reconcile.ts) on a one-minute rule: it finds crawls that stopped making progress and
 * queues again the counted URLs that have no outcome. A failed pass is not retried: the next minute's does the same
 * work. (No reserved concurrency: a new account's limit of 10 leaves none to reserve, and two overlapping passes only
 * queue a URL twice, which the consumer counts once.)
 */
export class Reconciler extends Construct {
  readonly function: CrawlerFunction;
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: ReconcilerProps) {
    super(scope, id);
    this.function = new CrawlerFunction(this, 'Reconcile', { definition: props.definition, tracing: props.tracing })
      .bindTable(props.table)
      .bindQueueForSending(props.pageQueue)
      .bindTurnQueueForCounting(props.turnQueue);
    this.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });
    this.rule = new Rule(this, 'EveryMinute', {
      description: 'serverless-crawler: requeue the lost URLs of stalled crawls',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(this.function, { event: RuleTargetInput.fromObject(RECONCILE_EVENT), retryAttempts: 0 })],
    });
  }
}
