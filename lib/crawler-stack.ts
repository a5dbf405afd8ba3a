import { CfnOutput, Duration, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { CrawlerApi } from './api.js';
import type { CrawlerConfig } from './config.js';
import { Consumer } from './consumer.js';
import { CrawlerFunction } from './crawler-function.js';
import { functionDefinitions } from './function-definitions.js';
import { Reconciler } from './reconciler.js';
import { PageQueue } from './queue.js';
import { CrawlerMonitoring } from './monitoring.js';
import { CrawlSchedules } from './schedules.js';
import { CrawlStoreTable } from './store.js';

export interface CrawlerStackProps extends StackProps {
  readonly config: CrawlerConfig;
}

/** The whole crawler: API → submit → SQS → consumer → DynamoDB, reads, and schedules. */
export class CrawlerStack extends Stack {
  constructor(scope: Construct, id: string, props: CrawlerStackProps) {
    super(scope, id, props);
    const { config } = props;

    const store = new CrawlStoreTable(this, 'Store');
    const pages = new PageQueue(this, 'Pages', { config });

    const definitions = functionDefinitions(config);
    const tracing = config.observability.tracing;
    const submit = new CrawlerFunction(this, 'Submit', { definition: definitions.submit, tracing })
      .bindTable(store.table, config.retentionDays)
      .bindQueueForSending(pages.queue);
    const read = new CrawlerFunction(this, 'Read', { definition: definitions.read, tracing }).bindTable(store.table, config.retentionDays);
    const consumer = new Consumer(this, 'Consumer', { config, definition: definitions.consume, queue: pages.queue, table: store.table });
    const reconciler = new Reconciler(this, 'Reconciler', {
      definition: definitions.reconcile,
      table: store.table,
      pageQueue: pages.queue,
      retentionDays: config.retentionDays,
      tracing,
    });

    const api = new CrawlerApi(this, 'Http', {
      config,
      functions: { submit: submit.function, read: read.function },
    });

    if (config.schedules.length > 0) {
      const scheduleDlq = new Queue(this, 'ScheduleDeadLetterQueue', {
        retentionPeriod: Duration.days(14),
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
      });
      new CrawlSchedules(this, 'Schedules', { schedules: config.schedules, submitFunction: submit.function, deadLetterQueue: scheduleDlq });
      Validations.of(scheduleDlq).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason: 'This queue is itself the dead-letter queue for undeliverable schedule invocations.',
      });
    }

    const monitoring = new CrawlerMonitoring(this, 'Monitoring', {
      config,
      functions: { submit: submit.function, read: read.function, consume: consumer.fn.function, reconcile: reconciler.fn.function },
      queue: pages.queue,
      deadLetterQueue: pages.deadLetterQueue,
      api: api.api,
    });

    new CfnOutput(this, 'ApiUrl', { value: api.api.url, description: 'Base URL of the crawler API (SigV4-signed requests)' });
    new CfnOutput(this, 'TableName', { value: store.table.tableName });
    new CfnOutput(this, 'QueueUrl', { value: pages.queue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: pages.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'DashboardName', { value: monitoring.dashboard.dashboardName, description: 'CloudWatch dashboard of the crawler' });
    new CfnOutput(this, 'AlarmTopicArn', { value: monitoring.alarmTopic.topicArn, description: 'SNS topic the alarms notify' });

    this.acknowledgeNagFindings(pages, [submit, read, consumer.fn, reconciler.fn], api, config.observability.tracing);
  }

  /** cdk-nag findings we accept, each with the reason. Anything not acknowledged here fails synth and the nag test. */
  private acknowledgeNagFindings(pages: PageQueue, functions: CrawlerFunction[], api: CrawlerApi, tracing: boolean): void {
    Validations.of(pages.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the page queue.',
    });
    for (const fn of functions) {
      Validations.of(fn.function).acknowledge(
        {
          id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
          reason: "AWSLambdaBasicExecutionRole only lets the function write its own CloudWatch logs.",
        },
      );
      // Only with tracing on: the one wildcard is X-Ray's, whose PutTraceSegments and PutTelemetryRecords take no resource.
      if (tracing) {
        Validations.of(fn.function).acknowledge({
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason: 'X-Ray tracing (observability.tracing): xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions.',
        });
      }
    }
    // Scoped to the RestApi, which holds the account CloudWatch role when api.createCloudWatchRole is on.
    Validations.of(api.api).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason: "API Gateway's account CloudWatch role: AWS's policy for exactly this role, letting API Gateway write its logs.",
      },
      {
        id: 'AwsSolutions-APIG2',
        reason: 'The handlers validate every request body, so a bad body gets the same status and error code locally and on AWS; GET /pages validates its required parameter.',
      },
    );
    Validations.of(this).acknowledge(
      {
        id: 'AwsSolutions-APIG3',
        reason: 'Every method requires IAM (SigV4) authorization and the stage is throttled; a WAF is left to the deployer.',
      },
      { id: 'AwsSolutions-COG4', reason: 'The API uses IAM authorization (SigV4), not Cognito user pools.' },
    );
  }
}
