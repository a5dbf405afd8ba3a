import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { PUBLISH_STREAM_FILTERS } from '../../functions/adapters/stream-filters.js';
import { WEBHOOK_MAX_RECEIVE_COUNT } from '../../functions/core/webhooks/retry-schedule.js';
import { parseCrawlerConfig } from '../../lib/config.js';
import { functionDefinitions, PUBLISH_EVENT_SOURCE } from '../../lib/function-definitions.js';
import { DELIVER_TIMEOUT_SECONDS, VISIBILITY_TIMEOUT_FACTOR } from '../../lib/resources.js';
import { actionsOf, functionId, shippedConfig, synthStack } from '../support/stack.js';

const { template } = synthStack();
type Resources = Record<string, { Properties: Record<string, any> }>;
const resources = (type: string) => template.findResources(type) as Resources;
const idOf = (type: string, part: string) => {
  const ids = Object.keys(resources(type)).filter((id) => id.includes(part));
  if (ids.length !== 1) throw new Error(`expected one ${type} named like ${part}, found ${ids.join(', ')}`);
  return ids[0]!;
};
const publish = functionId(template, 'Publish');
const deliver = functionId(template, 'Deliver');
const arnOf = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });

describe('the crawl table', () => {
  it('has a stream with old and new images', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', { StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' } });
  });
});

describe('the publish function', () => {
  it("reads the table's stream with the shared filters, bisecting and retrying, reporting item failures, failures to its own queue", () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: publish },
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^StoreTable'), 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: PUBLISH_EVENT_SOURCE.retryAttempts,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      FilterCriteria: { Filters: PUBLISH_STREAM_FILTERS.map((pattern) => ({ Pattern: JSON.stringify(pattern) })) },
      DestinationConfig: { OnFailure: { Destination: arnOf(idOf('AWS::SQS::Queue', 'EventsFailureQueue')) } },
    });
  });

  it('may put events on the default bus and no other', () => {
    const statements = actionsOf(template, publish).filter((s) => s.actions.some((a) => a.startsWith('events:')));
    expect(statements).toEqual([
      {
        actions: ['events:PutEvents'],
        resources: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':event-bus/default']] },
      },
    ]);
    expect(resources('AWS::Lambda::Function')[publish]!.Properties['Environment'].Variables['EVENT_BUS_NAME']).toBe('default');
  });

  it('may only get items of the table (besides reading its stream) and send to queues', () => {
    const streamReads = ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'];
    const actions = actionsOf(template, publish).flatMap((s) => s.actions);
    expect(actions.filter((a) => a.startsWith('dynamodb:') && !streamReads.includes(a))).toEqual(['dynamodb:GetItem']);
    expect(actions.filter((a) => a.startsWith('sqs:') && !a.startsWith('sqs:SendMessage') && a !== 'sqs:GetQueueAttributes' && a !== 'sqs:GetQueueUrl')).toEqual([]);
  });
});

describe('the webhook delivery queue', () => {
  it("dead-letters a delivery after the retry schedule's receives, and hides one longer than 6× the deliver timeout", () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: VISIBILITY_TIMEOUT_FACTOR * DELIVER_TIMEOUT_SECONDS,
      RedrivePolicy: { deadLetterTargetArn: arnOf(idOf('AWS::SQS::Queue', 'WebhooksDeliveriesDeadLetterQueue')), maxReceiveCount: WEBHOOK_MAX_RECEIVE_COUNT },
    });
  });
});

describe('the deliver function', () => {
  it('consumes the delivery queue in batches, reporting item failures, at the configured concurrency', () => {
    const config = parseCrawlerConfig(shippedConfig());
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: deliver },
      EventSourceArn: arnOf(idOf('AWS::SQS::Queue', 'WebhooksDeliveriesQueue')),
      BatchSize: config.webhooks.batchSize,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: functionDefinitions(config).deliver.maxConcurrency },
    });
  });

  it('is the only one that may read the signing secret, whose ARN it is given', () => {
    const secret = idOf('AWS::SecretsManager::Secret', 'SigningSecret');
    const readers = Object.values(resources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p.Properties['PolicyDocument']).includes(`"Ref":"${secret}"`),
    );
    const role = resources('AWS::Lambda::Function')[deliver]!.Properties['Role']['Fn::GetAtt'][0];
    expect(readers.map((p) => p.Properties['Roles'])).toEqual([[{ Ref: role }]]);
    expect(resources('AWS::Lambda::Function')[deliver]!.Properties['Environment'].Variables['WEBHOOK_SECRET']).toEqual({ Ref: secret });
  });

  it('may hide a delivery for its retry (ChangeMessageVisibility) on its queue', () => {
    const queue = idOf('AWS::SQS::Queue', 'WebhooksDeliveriesQueue');
    const statements = actionsOf(template, deliver).filter((s) => s.actions.includes('sqs:ChangeMessageVisibility'));
    expect(statements.map((s) => s.resources)).toContainEqual(arnOf(queue));
  });
});

describe('monitoring', () => {
  it.each([
    ['WebhookDeadLetters', 'WebhooksDeliveriesDeadLetterQueue'],
    ['PublishFailures', 'EventsFailureQueue'],
  ])('alarms on any message in %s', (alarm, queue) => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: Match.stringLikeRegexp(`-${alarm}$`),
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [idOf('AWS::SQS::Queue', queue), 'QueueName'] } }],
      Threshold: 1,
    });
  });
});

describe('outputs', () => {
  it('names the webhook signing secret', () => {
    template.hasOutput('WebhookSecretArn', { Value: { Ref: idOf('AWS::SecretsManager::Secret', 'SigningSecret') } });
  });
});

describe('dashboard', () => {
  it('shows the events put and the webhook deliveries queued, delivered, failed and given up', () => {
    const body = JSON.stringify(Object.values(resources('AWS::CloudWatch::Dashboard'))[0]!.Properties['DashboardBody']);
    for (const metric of ['EventsPublished', 'WebhookDeliveriesQueued', 'WebhookDelivered', 'WebhookFailed', 'WebhookGaveUp']) expect(body).toContain(`\\"${metric}\\"`);
  });
});
