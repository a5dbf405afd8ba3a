import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { CrawlerApi } from './api.js';
import type { CrawlerConfig } from './config.js';
import { Consumer } from './consumer.js';
import { CrawlerFunction } from './crawler-function.js';
import { CrawlEvents } from './events.js';
import { functionDefinitions } from './function-definitions.js';
import { Reconciler } from './reconciler.js';
import { PageQueue } from './queue.js';
import { CrawlerMonitoring } from './monitoring.js';
import { crawlQueues } from './resources.js';
import { CrawlSchedules } from './schedules.js';
import { CrawlStoreTable } from './store.js';
import { Webhooks } from './webhooks.js';

export interface CrawlerStackProps extends StackProps {
  readonly config: CrawlerConfig;
}

/**
 * The whole crawler: API → submit → SQS → consumer → DynamoDB, reads, schedules, and the table's stream → events and
 * webhooks. The stack reads the configuration
 * and hands each construct only the settings it uses; each construct checks them and acknowledges its own cdk-nag findings.
 */
export class CrawlerStack extends Stack {
  constructor(scope: Construct, id: string, props: CrawlerStackProps) {
    super(scope, id, props);
    const { config } = props;
    const { tracing } = config.observability;

    const store = new CrawlStoreTable(this, 'Store');
    const pages = new PageQueue(this, 'Pages', crawlQueues(config));

    const definitions = functionDefinitions(config);
    const submit = new CrawlerFunction(this, 'Submit', { definition: definitions.submit, tracing })
      .bindTable(store.table)
      .bindQueueForSending(pages.queue);
    const read = new CrawlerFunction(this, 'Read', { definition: definitions.read, tracing }).bindTable(store.table);
    const consumer = new Consumer(this, 'Consumer', {
      definition: definitions.consume,
      queue: pages.queue,
      turnQueue: pages.turnQueue,
      table: store.table,
      batchSize: config.consumer.batchSize,
      maxBatchingWindowSeconds: config.consumer.maxBatchingWindowSeconds,
      tracing,
    });
    const reconciler = new Reconciler(this, 'Reconciler', {
      definition: definitions.reconcile,
      table: store.table,
      pageQueue: pages.queue,
      turnQueue: pages.turnQueue,
      tracing,
    });

    const webhooks = new Webhooks(this, 'Webhooks', { definition: definitions.deliver, batchSize: config.webhooks.batchSize, tracing });
    const events = new CrawlEvents(this, 'Events', {
      definition: definitions.publish,
      table: store.table,
      webhookQueue: webhooks.deliveries.queue,
      tracing,
    });

    const api = new CrawlerApi(this, 'Http', {
      functions: { submit, read },
      throttleRateLimit: config.api.throttleRateLimit,
      throttleBurstLimit: config.api.throttleBurstLimit,
      createCloudWatchRole: config.api.createCloudWatchRole,
      tracing,
    });

    new CrawlSchedules(this, 'Schedules', { schedules: config.schedules, submitFunction: submit });

    const monitoring = new CrawlerMonitoring(this, 'Monitoring', {
      functions: { submit, read, consume: consumer.function, reconcile: reconciler.function },
      queue: pages.queue,
      deadLetterQueue: pages.deadLetterQueue,
      turnQueue: pages.turnQueue,
      webhookDeadLetterQueue: webhooks.deliveries.deadLetterQueue,
      publishFailureQueue: events.failureQueue,
      api: api.api,
      alarmEmail: config.observability.alarmEmail,
      oldestMessageAgeAlarmSeconds: config.observability.oldestMessageAgeAlarmSeconds,
    });

    new CfnOutput(this, 'ApiUrl', { value: api.api.url, description: 'Base URL of the crawler API (SigV4-signed requests)' });
    new CfnOutput(this, 'TableName', { value: store.table.tableName });
    new CfnOutput(this, 'QueueUrl', { value: pages.queue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: pages.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'TurnQueueUrl', { value: pages.turnQueue.queueUrl, description: "URLs waiting for their host's turn (delayed messages)" });
    new CfnOutput(this, 'WebhookDeadLetterQueueUrl', { value: webhooks.deliveries.deadLetterQueue.queueUrl, description: 'Webhook deliveries that failed through every retry' });
    new CfnOutput(this, 'DashboardName', { value: monitoring.dashboard.dashboardName, description: 'CloudWatch dashboard of the crawler' });
    new CfnOutput(this, 'AlarmTopicArn', { value: monitoring.alarmTopic.topicArn, description: 'SNS topic the alarms notify' });
  }
}
