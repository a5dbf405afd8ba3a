import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseCrawlerConfig } from '../../lib/config.js';
import { functionDefinitions } from '../../lib/function-definitions.js';
import { functionId, shippedConfig, synthStack } from '../support/stack.js';

const { template } = synthStack();
type Resources = Record<string, { Properties: Record<string, any> }>;
const alarms = () => Object.values(template.findResources('AWS::CloudWatch::Alarm') as Resources).map((a) => a.Properties);
const alarmNamed = (suffix: string) => {
  const found = alarms().filter((a) => JSON.stringify(a['AlarmName']).includes(suffix));
  expect(found, suffix).toHaveLength(1);
  return found[0]!;
};
const ref = (id: string) => ({ Ref: id });

describe('alarms', () => {
  const topic = Object.keys(template.findResources('AWS::SNS::Topic'))[0]!;

  it('every alarm notifies the alarm topic', () => {
    expect(alarms().length).toBe(10);
    for (const a of alarms()) expect(a['AlarmActions']).toEqual([ref(topic)]);
  });

  it('fires on any message in the dead-letter queue', () => {
    const a = alarmNamed('DeadLetterMessages');
    expect(a).toMatchObject({ MetricName: 'ApproximateNumberOfMessagesVisible', Namespace: 'AWS/SQS', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    expect(JSON.stringify(a['Dimensions'])).toMatch(/PagesDeadLetterQueue/);
  });

  it('fires on consumer errors and on consumer throttles', () => {
    const consume = functionId(template, 'Consume');
    expect(alarmNamed('ConsumerErrors')).toMatchObject({ MetricName: 'Errors', Namespace: 'AWS/Lambda', Threshold: 1, Dimensions: [{ Name: 'FunctionName', Value: ref(consume) }] });
    expect(alarmNamed('ConsumerThrottles')).toMatchObject({ MetricName: 'Throttles', Namespace: 'AWS/Lambda', Threshold: 1, Dimensions: [{ Name: 'FunctionName', Value: ref(consume) }] });
  });

  it('fires when the oldest queued page has waited 15 minutes, or what the configuration says', () => {
    const a = alarmNamed('OldestPageWaiting');
    expect(a).toMatchObject({ MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 900, EvaluationPeriods: 2 });
    expect(JSON.stringify(a['Dimensions'])).toMatch(/PagesQueue/);
    const custom = synthStack({ ...(shippedConfig() as object), observability: { oldestMessageAgeAlarmSeconds: 120 } }).template;
    custom.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 120 });
  });

  it("fires when URLs back for their host's turn keep waiting in the turn queue for 10 minutes, not on the delayed ones", () => {
    const a = alarmNamed('TurnQueueBacklog');
    expect(a).toMatchObject({ MetricName: 'ApproximateNumberOfMessagesVisible', Statistic: 'Minimum', Threshold: 100, EvaluationPeriods: 2 });
    expect(JSON.stringify(a['Dimensions'])).toMatch(/TurnQueue/);
  });

  it('fires when the reconciler ends URLs as UNPROCESSED, and when it keeps failing', () => {
    expect(alarmNamed('UnprocessedUrls')).toMatchObject({ MetricName: 'UrlsUnprocessed', Namespace: 'ServerlessCrawler', Threshold: 1 });
    const reconcile = functionId(template, 'Reconcile');
    expect(alarmNamed('ReconcilerErrors')).toMatchObject({ MetricName: 'Errors', Namespace: 'AWS/Lambda', EvaluationPeriods: 3, Dimensions: [{ Name: 'FunctionName', Value: ref(reconcile) }] });
  });

  it('fires on API 5xx answers', () => {
    expect(alarmNamed('ApiServerErrors')).toMatchObject({ MetricName: '5XXError', Namespace: 'AWS/ApiGateway' });
  });

  it('mails them when an address is configured, over an encrypted, TLS-only topic', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('AlarmTopicKey'), 'Arn'] } });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', Match.objectLike({ PolicyDocument: Match.objectLike({ Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) }) }));
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    const mailed = synthStack({ ...(shippedConfig() as object), observability: { alarmEmail: 'ops@example.com' } }).template;
    mailed.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });
});

describe('alarm topic, reachable by CloudWatch', () => {
  const fromThisAccount = { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } };

  it('is encrypted with a rotated customer-managed key whose policy lets CloudWatch alarms use it', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Condition: fromThisAccount,
          }),
        ]),
      }),
    });
  });

  it('lets this stack\'s CloudWatch alarms publish to it', () => {
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: { Ref: Match.stringLikeRegexp('AlarmTopic') },
            Condition: {
              ...fromThisAccount,
              ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':alarm:Test-\\*$')])] } },
            },
          }),
        ]),
      }),
    });
  });
});

describe('dashboard', () => {
  const body = () => JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard') as Resources)[0]!.Properties['DashboardBody']);

  it('exists, and shows the crawler\'s own metrics: pages, failures by error code, latency, bytes', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    for (const metric of ['PagesFetched', 'PagesFailed', 'PagesFollowedOn', 'PagesFailedByCode', 'FetchLatency', 'PageBytes', 'CrawlsSubmitted', 'UrlsAccepted']) expect(body()).toContain(metric);
    expect(body()).toContain('ServerlessCrawler');
  });

  it('shows the queues, the functions and the API', () => {
    for (const metric of ['ApproximateAgeOfOldestMessage', 'ApproximateNumberOfMessagesVisible', 'Throttles', 'Errors', 'Duration', '5XXError', 'Latency']) {
      expect(body()).toContain(metric);
    }
  });
});

describe('tracing', () => {
  it('is off by default, and on for every function and the API stage when configured', () => {
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function') as Resources)) expect(fn.Properties['TracingConfig']).toBeUndefined();
    const traced = synthStack({ ...(shippedConfig() as object), observability: { tracing: true } }).template;
    const fns = Object.values(traced.findResources('AWS::Lambda::Function') as Resources).filter((f) => f.Properties['Handler'] === 'index.handler');
    expect(fns.length).toBe(Object.keys(functionDefinitions(parseCrawlerConfig(shippedConfig()))).length);
    for (const fn of fns) expect(fn.Properties['TracingConfig']).toEqual({ Mode: 'Active' });
    traced.hasResourceProperties('AWS::ApiGateway::Stage', { TracingEnabled: true });
  });
});
