import { Duration, Validations } from 'aws-cdk-lib';
import { EventField, Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { CfnQueue, CfnQueuePolicy, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { partitionUrls } from '../functions/core/model/url.js';
import type { ScheduledCrawlEvent } from '../functions/handlers/submit.js';
import type { ScheduleConfig } from './config.js';

export interface CrawlSchedulesProps {
  readonly schedules: readonly ScheduleConfig[];
  readonly submitFunction: IFunction;
}

/**
 * One EventBridge rule per configured schedule, invoking the submit function with the crawl to start, and the
 * dead-letter queue where EventBridge puts the invocations it could not deliver (none without schedules).
 */
export class CrawlSchedules extends Construct {
  readonly rules: Rule[] = [];
  readonly deadLetterQueue: Queue | undefined;

  constructor(scope: Construct, id: string, props: CrawlSchedulesProps) {
    super(scope, id);
    this.deadLetterQueue = props.schedules.length > 0 ? scheduleDeadLetterQueue(this) : undefined;
    for (const schedule of props.schedules) {
      // Caught at synth time rather than at 3 a.m. when the rule fires.
      const { rejected } = partitionUrls(schedule.crawl.urls);
      if (rejected.length > 0) {
        throw new Error(`schedule "${schedule.name}": ${rejected.map((r) => `${r.url} (${r.reason})`).join(', ')}`);
      }
      // The event's id and time make the crawl id: Lambda retries a failed asynchronous invocation, and the retry
      // must find the crawl its first try recorded rather than start a second one.
      const event: ScheduledCrawlEvent = {
        source: 'serverless-crawler.schedule',
        schedule: schedule.name,
        crawl: schedule.crawl,
        eventId: EventField.eventId,
        time: EventField.time,
      };
      this.rules.push(
        new Rule(this, schedule.name, {
          description: `serverless-crawler schedule ${schedule.name}`,
          schedule: Schedule.expression(schedule.expression),
          enabled: schedule.enabled,
          targets: [
            new LambdaFunction(props.submitFunction, {
              event: RuleTargetInput.fromObject(event),
              retryAttempts: 2,
              maxEventAge: Duration.hours(1),
              deadLetterQueue: this.deadLetterQueue,
            }),
          ],
        }),
      );
    }
  }
}

function scheduleDeadLetterQueue(scope: Construct): Queue {
  const queue = new Queue(scope, 'DeadLetterQueue', {
    retentionPeriod: Duration.days(14),
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
  });
  // The logical ids the queue and its policy had when the stack built them, so an update keeps the queue and what it
  // holds. A policy under a new id would be created, then the old one deleted, and SQS's one policy with it.
  (queue.node.defaultChild as CfnQueue).overrideLogicalId('ScheduleDeadLetterQueue0D6B48D2');
  (queue.node.findChild('Policy').node.defaultChild as CfnQueuePolicy).overrideLogicalId('ScheduleDeadLetterQueuePolicy71B1C1FF');
  Validations.of(queue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: 'This queue is itself the dead-letter queue for undeliverable schedule invocations.',
  });
  return queue;
}
