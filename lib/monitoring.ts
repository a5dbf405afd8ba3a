import { ArnFormat, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  SingleValueWidget,
  TextWidget,
  TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../functions/telemetry-names.js';
import { checkProps, integerIn } from './check-props.js';

/** URLs back for their turn and not yet taken, all through two 5-minute periods, that mean the consumer is behind. */
const TURN_BACKLOG_ALARM = 100;

export interface MonitoringProps {
  readonly functions: { submit: IFunction; read: IFunction; consume: IFunction; reconcile: IFunction };
  /** The page queue and its dead-letter queue. */
  readonly queue: IQueue;
  readonly deadLetterQueue: IQueue;
  /** The turn queue: URLs sent away until their host's turn (its delayed messages are the URLs waiting). */
  readonly turnQueue: IQueue;
  /** The webhook delivery queue's dead-letter queue: deliveries that failed through their whole retry schedule. */
  readonly webhookDeadLetterQueue: IQueue;
  /** The publish function's on-failure queue: stream records whose events failed through every retry. */
  readonly publishFailureQueue: IQueue;
  readonly api: RestApi;
  /** An address to mail alarms to; the alarm topic exists either way, for any subscription you add. */
  readonly alarmEmail?: string;
  /** Alarm when the oldest queued page has waited this long, 60 s to 14 days (a queue's longest retention). */
  readonly oldestMessageAgeAlarmSeconds: number;
}

/**
 * What an operator watches: one dashboard (pages, failures by code, latency, bytes, the queues, the functions, the
 * API) and alarms that say something is wrong — messages in the DLQ, consumer errors or throttles, pages waiting too
 * long — all sent to one SNS topic.
 */
export class CrawlerMonitoring extends Construct {
  readonly dashboard: Dashboard;
  readonly alarmTopic: Topic;
  readonly alarms: Record<
    | 'deadLetters'
    | 'consumerErrors'
    | 'consumerThrottles'
    | 'oldestMessage'
    | 'turnBacklog'
    | 'apiServerErrors'
    | 'unprocessedUrls'
    | 'reconcilerErrors'
    | 'webhookDeadLetters'
    | 'publishFailures',
    Alarm
  >;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { functions, queue, deadLetterQueue, turnQueue, webhookDeadLetterQueue, publishFailureQueue, api, alarmEmail, oldestMessageAgeAlarmSeconds } = props;
    checkProps(`CrawlerMonitoring ${id}`, [
      integerIn('oldestMessageAgeAlarmSeconds', oldestMessageAgeAlarmSeconds, 60, 1_209_600),
      alarmEmail === undefined || Token.isUnresolved(alarmEmail) || /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alarmEmail)
        ? undefined
        : `alarmEmail must be an email address, not "${alarmEmail}"`,
    ]);
    const period = Duration.minutes(5);

    // CloudWatch alarms can publish only to a topic whose key policy lets CloudWatch use the key: never the
    // AWS-managed alias/aws/sns, whose policy nobody can change. Hence a key of our own, and a topic policy for it.
    const stack = Stack.of(this);
    const cloudWatch = new ServicePrincipal('cloudwatch.amazonaws.com');
    const fromThisAccount = { StringEquals: { 'aws:SourceAccount': stack.account } };
    const alarmTopicKey = new Key(this, 'AlarmTopicKey', {
      description: 'Encrypts the serverless-crawler alarm topic; CloudWatch alarms of this account may use it',
      enableKeyRotation: true,
      // The topic keeps no messages at rest, so nothing needs the key once the stack is gone (deletion waits 30 days).
      removalPolicy: RemovalPolicy.DESTROY,
    });
    alarmTopicKey.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToUseTheKey',
        principals: [cloudWatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: fromThisAccount,
      }),
    );
    this.alarmTopic = new Topic(this, 'AlarmTopic', {
      displayName: 'serverless-crawler alarms',
      enforceSSL: true,
      masterKey: alarmTopicKey,
    });
    const thisStacksAlarms = stack.formatArn({
      service: 'cloudwatch',
      resource: 'alarm',
      resourceName: `${stack.stackName}-*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.alarmTopic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [cloudWatch],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        // Only this stack's alarms (their names start with the stack name), as AWS's topic policy example scopes it.
        conditions: { ...fromThisAccount, ArnLike: { 'aws:SourceArn': thisStacksAlarms } },
      }),
    );
    if (alarmEmail) this.alarmTopic.addSubscription(new EmailSubscription(alarmEmail));

    const crawler = (metricName: string, statistic: string, label: string) =>
      new Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: SERVICE_NAME }, statistic, period, label });
    const alarm = (name: string, metric: IMetric, threshold: number, description: string, evaluationPeriods = 1) => {
      const created = new Alarm(this, name, {
        alarmName: `${stack.stackName}-${name}`,
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(new SnsAction(this.alarmTopic));
      return created;
    };
    this.alarms = {
      deadLetters: alarm(
        'DeadLetterMessages',
        deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
        1,
        'Pages reached the dead-letter queue: even recording their failure failed (the reconciler still ends their URLs). See README "Retries, terminal states and the dead-letter queue".',
      ),
      consumerErrors: alarm(
        'ConsumerErrors',
        functions.consume.metricErrors({ period, statistic: 'Sum' }),
        1,
        'The consumer function failed whole invocations (timeouts, crashes), not single pages.',
      ),
      consumerThrottles: alarm(
        'ConsumerThrottles',
        functions.consume.metricThrottles({ period, statistic: 'Sum' }),
        1,
        'The consumer is throttled: account concurrency is short of what its two event sources (page queue and turn queue) may take, up to twice consumer.maxConcurrency.',
      ),
      oldestMessage: alarm(
        'OldestPageWaiting',
        queue.metricApproximateAgeOfOldestMessage({ period, statistic: 'Maximum' }),
        oldestMessageAgeAlarmSeconds,
        `A page has waited in the queue for ${oldestMessageAgeAlarmSeconds} s or more: the consumer is not keeping up.`,
        2,
      ),
      // Delayed messages are the URLs waiting, as they should; visible ones are back for a turn that has come. A few are
      // there between the pollers' receives; a floor that stays up means turns pass unused.
      turnBacklog: alarm(
        'TurnQueueBacklog',
        turnQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Minimum' }),
        TURN_BACKLOG_ALARM,
        `At least ${TURN_BACKLOG_ALARM} URLs back for their host's turn waited in the turn queue all through 10 minutes: the consumer does not take them as they come back, so their hosts' slots pass unused. See the consumer's throttles and concurrency.`,
        2,
      ),
      apiServerErrors: alarm('ApiServerErrors', api.metricServerError({ period, statistic: 'Sum' }), 1, 'The API answered 5xx.'),
      unprocessedUrls: alarm(
        'UnprocessedUrls',
        new Metric({ namespace: METRICS_NAMESPACE, metricName: 'UrlsUnprocessed', dimensionsMap: { service: SERVICE_NAME }, statistic: 'Sum', period }),
        1,
        'The reconciler ended URLs as failed (UNPROCESSED): their messages kept being lost or dead-lettered. See the DLQ and the consumer errors.',
      ),
      reconcilerErrors: alarm(
        'ReconcilerErrors',
        functions.reconcile.metricErrors({ period, statistic: 'Sum' }),
        1,
        'The reconciler failed: crawls that lost messages are not being finished.',
        3,
      ),
      webhookDeadLetters: alarm(
        'WebhookDeadLetters',
        webhookDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
        1,
        'Webhook deliveries reached their dead-letter queue: a receiver failed every retry for over an hour. The messages say which crawl, event and URL; redrive them once the receiver answers 2xx.',
      ),
      publishFailures: alarm(
        'PublishFailures',
        publishFailureQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
        1,
        "Stream records of the crawl table failed the publish function through every retry: their events and webhook deliveries were not sent. Each message names the shard and sequence numbers; see the publish function's logs.",
      ),
    };
    const failuresByCode = new MathExpression({
      expression: `SEARCH('{${METRICS_NAMESPACE},ErrorCode,service} MetricName="PagesFailedByCode"', 'Sum', 300)`,
      label: '',
      period,
    });

    this.dashboard = new Dashboard(this, 'Dashboard', { dashboardName: `${stack.stackName}-crawler` });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown: '# serverless-crawler\nPages fetched and failed, why they failed, how long fetch + parse takes, and whether the queue keeps up.',
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Pages per 5 minutes',
        left: [crawler('PagesFetched', 'Sum', 'fetched'), crawler('PagesFailed', 'Sum', 'failed'), crawler('PagesFollowedOn', 'Sum', 'of them followed on')],
        width: 8,
      }),
      new GraphWidget({ title: 'Failed pages by error code', left: [failuresByCode], width: 8 }),
      new GraphWidget({
        title: 'Fetch + parse latency (ms)',
        left: [crawler('FetchLatency', 'p50', 'p50'), crawler('FetchLatency', 'p90', 'p90'), crawler('FetchLatency', 'p99', 'p99')],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Page queue',
        left: [
          queue.metricApproximateNumberOfMessagesVisible({ period, label: 'waiting' }),
          queue.metricApproximateNumberOfMessagesNotVisible({ period, label: 'in flight' }),
          turnQueue.metricApproximateNumberOfMessagesDelayed({ period, label: "waiting for their host's turn" }),
          turnQueue.metricApproximateNumberOfMessagesVisible({ period, label: 'back for their turn' }),
        ],
        right: [queue.metricApproximateAgeOfOldestMessage({ period, statistic: 'Maximum', label: 'oldest (s)' })],
        width: 8,
      }),
      new SingleValueWidget({
        title: 'Dead-letter queue',
        metrics: [deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label: 'messages' })],
        width: 4,
      }),
      new GraphWidget({
        title: 'Consumer function',
        left: [functions.consume.metricInvocations({ period }), functions.consume.metricErrors({ period }), functions.consume.metricThrottles({ period })],
        right: [functions.consume.metricDuration({ period, statistic: 'p90', label: 'duration p90 (ms)' })],
        width: 8,
      }),
      new GraphWidget({
        title: 'Bytes fetched, retries',
        left: [crawler('PageBytes', 'Sum', 'bytes')],
        right: [crawler('PageRetries', 'Sum', 'retries'), crawler('DuplicateDeliveries', 'Sum', 'duplicate deliveries')],
        width: 4,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'API',
        left: [api.metricCount({ period, label: 'requests' }), api.metricClientError({ period, label: '4xx' }), api.metricServerError({ period, label: '5xx' })],
        right: [api.metricLatency({ period, statistic: 'p90', label: 'latency p90 (ms)' })],
        width: 8,
      }),
      new GraphWidget({
        title: 'Crawls and URLs submitted',
        left: [crawler('CrawlsSubmitted', 'Sum', 'crawls'), crawler('UrlsAccepted', 'Sum', 'URLs accepted'), crawler('UrlsRejected', 'Sum', 'URLs rejected')],
        width: 8,
      }),
      new GraphWidget({
        title: 'Reconciler: lost URLs queued again, and ended',
        left: [crawler('UrlsRequeued', 'Sum', 'URLs requeued'), crawler('UrlsUnprocessed', 'Sum', 'URLs ended UNPROCESSED')],
        right: [functions.reconcile.metricErrors({ period, label: 'reconciler errors' })],
        width: 8,
      }),
      new GraphWidget({
        title: 'Submit and read functions',
        left: [functions.submit.metricErrors({ period, label: 'submit errors' }), functions.read.metricErrors({ period, label: 'read errors' })],
        right: [functions.submit.metricDuration({ period, statistic: 'p90', label: 'submit p90 (ms)' }), functions.read.metricDuration({ period, statistic: 'p90', label: 'read p90 (ms)' })],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Events and webhooks',
        left: [
          crawler('EventsPublished', 'Sum', 'events put on the bus'),
          crawler('WebhookDeliveriesQueued', 'Sum', 'deliveries queued'),
          crawler('WebhookDelivered', 'Sum', 'delivered'),
          crawler('WebhookFailed', 'Sum', 'failed, to be retried'),
          crawler('WebhookGaveUp', 'Sum', 'given up'),
        ],
        right: [
          webhookDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label: 'webhook dead letters' }),
          publishFailureQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label: 'stream records given up' }),
        ],
        width: 12,
      }),
    );
  }
}
