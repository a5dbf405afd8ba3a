import { Duration } from 'aws-cdk-lib';
import { EventField, Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { partitionUrls } from '../functions/core/model/url.js';
import type { ScheduledCrawlEvent } from '../functions/handlers/submit.js';
import type { ScheduleConfig } from './config.js';

export interface CrawlSchedulesProps {
  readonly schedules: readonly ScheduleConfig[];
  readonly submitFunction: IFunction;
  /** Where EventBridge puts invocations it could not deliver. */
  readonly deadLetterQueue: IQueue;
}

/** One EventBridge rule per configured schedule, invoking the submit function with the crawl to start. */
export class CrawlSchedules extends Construct {
  readonly rules: Rule[] = [];

  constructor(scope: Construct, id: string, props: CrawlSchedulesProps) {
    super(scope, id);
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
              deadLetterQueue: props.deadLetterQueue,
            }),
          ],
        }),
      );
    }
  }
}
