import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseCrawlerConfig } from '../../lib/config.js';
import { resourceEnvironment } from '../../functions/settings/setting.js';
import { BASE_ENVIRONMENT, functionDefinitions } from '../../lib/function-definitions.js';
import { actionsOf, functionId, shippedConfig, synthStack } from '../support/stack.js';

const { template } = synthStack();
type Resources = Record<string, { Properties: Record<string, any> }>;
const resources = (type: string) => template.findResources(type) as Resources;

describe('API', () => {
  it('requires IAM (SigV4) authorization on every method', () => {
    const methods = Object.values(resources('AWS::ApiGateway::Method'));
    expect(methods.length).toBeGreaterThanOrEqual(4);
    for (const method of methods) expect(method.Properties['AuthorizationType']).toBe('AWS_IAM');
  });

  it('has the contract routes', () => {
    const paths = Object.values(resources('AWS::ApiGateway::Resource')).map((r) => r.Properties['PathPart']);
    expect(paths).toEqual(expect.arrayContaining(['crawls', '{crawlId}', 'pages', '{proxy+}']));
    const verbs = Object.values(resources('AWS::ApiGateway::Method')).map((m) => m.Properties['HttpMethod']);
    expect(verbs.filter((v) => v === 'GET')).toHaveLength(4);
    expect(verbs.filter((v) => v === 'POST')).toHaveLength(1);
  });

  it('leaves POST /crawls\'s body to the handler (no validator or model), so AWS answers bad bodies as the local stack does', () => {
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'POST',
      RequestValidatorId: Match.absent(),
      RequestModels: Match.absent(),
    });
    template.resourcePropertiesCountIs('AWS::ApiGateway::RequestValidator', { ValidateRequestBody: true }, 0);
    template.resourceCountIs('AWS::ApiGateway::Model', 0);
  });

  it('requires GET /pages\'s url parameter before invoking the function, answering MISSING_URL', () => {
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'GET',
      RequestParameters: { 'method.request.querystring.url': true },
      RequestValidatorId: Match.anyValue(),
    });
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'BAD_REQUEST_PARAMETERS',
      ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"MISSING_URL"') },
    });
  });

  it('throttles the stage and writes access logs', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: Match.arrayWith([Match.objectLike({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 })]),
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
    });
  });

  it('logs execution errors, without request or response bodies', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: Match.arrayWith([Match.objectLike({ HttpMethod: '*', ResourcePath: '/*', LoggingLevel: 'ERROR', DataTraceEnabled: false })]),
    });
  });

  it('creates API Gateway\'s account CloudWatch role, retained when the stack is deleted', () => {
    template.hasResource('AWS::ApiGateway::Account', {
      Properties: { CloudWatchRoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('CloudWatchRole'), 'Arn'] } },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    template.hasResource('AWS::IAM::Role', {
      Properties: {
        AssumeRolePolicyDocument: Match.objectLike({ Statement: [Match.objectLike({ Principal: { Service: 'apigateway.amazonaws.com' } })] }),
        ManagedPolicyArns: [{ 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('AmazonAPIGatewayPushToCloudWatchLogs')])] }],
      },
      DeletionPolicy: 'Retain',
    });
  });

  it('leaves the account CloudWatch role out when api.createCloudWatchRole is false', () => {
    const config = shippedConfig() as { api: object };
    const { template: without } = synthStack({ ...config, api: { ...config.api, createCloudWatchRole: false } });
    without.resourceCountIs('AWS::ApiGateway::Account', 0);
    without.resourcePropertiesCountIs('AWS::IAM::Role', { AssumeRolePolicyDocument: Match.objectLike({ Statement: [Match.objectLike({ Principal: { Service: 'apigateway.amazonaws.com' } })] }) }, 0);
  });

  it('answers API Gateway\'s own errors in the contract\'s JSON error shape', () => {
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'DEFAULT_4XX',
      ResponseTemplates: { 'application/json': Match.stringLikeRegexp('^\\{"error":\\{"code":') },
    });
  });
});

describe('queue', () => {
  it('has a dead-letter queue through a redrive policy', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('DeadLetterQueue'), 'Arn'] }, maxReceiveCount: 5 },
    });
  });

  it('keeps the visibility timeout at least 6× the consumer timeout', () => {
    const consumer = resources('AWS::Lambda::Function')[functionId(template, 'Consume')]!;
    const queues = Object.values(resources('AWS::SQS::Queue')).filter((q) => q.Properties['RedrivePolicy']);
    expect(queues.length).toBeGreaterThanOrEqual(2);
    for (const queue of queues) expect(queue.Properties['VisibilityTimeout']).toBeGreaterThanOrEqual(6 * consumer.Properties['Timeout']);
  });

  it('has a turn queue for URLs waiting for their host’s turn, dead-lettering to the page queue’s DLQ after as many receives', () => {
    const turnQueue = resources('AWS::SQS::Queue')['PagesTurnQueue2B801DCA'];
    expect(turnQueue?.Properties['RedrivePolicy']).toEqual(resources('AWS::SQS::Queue')['PagesQueueF48F9D55']!.Properties['RedrivePolicy']);
  });

  it('encrypts every queue and refuses non-TLS access', () => {
    for (const queue of Object.values(resources('AWS::SQS::Queue'))) expect(queue.Properties['SqsManagedSseEnabled']).toBe(true);
    template.resourcePropertiesCountIs(
      'AWS::SQS::QueuePolicy',
      { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) } },
      Object.keys(resources('AWS::SQS::Queue')).length,
    );
  });
});

describe('consumer', () => {
  it('reports batch item failures, with batching and concurrency from configuration', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': ['PagesQueueF48F9D55', 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 16,
      MaximumBatchingWindowInSeconds: 1,
      ScalingConfig: { MaximumConcurrency: 20 },
    });
  });

  it('reads the turn queue too, reporting batch item failures, with the same batching and concurrency', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': ['PagesTurnQueue2B801DCA', 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 16,
      MaximumBatchingWindowInSeconds: 1,
      ScalingConfig: { MaximumConcurrency: 20 },
    });
    const variables = resources('AWS::Lambda::Function')[functionId(template, 'Consume')]!.Properties['Environment'].Variables;
    expect(variables['TURN_QUEUE_URL']).toEqual({ Ref: 'PagesTurnQueue2B801DCA' });
  });

  it('takes its settings from configuration', () => {
    const { template: custom } = synthStack({
      consumer: { batchSize: 50, maxBatchingWindowSeconds: 5, maxConcurrency: 3, memorySize: 2048, timeoutSeconds: 30, pageConcurrency: 50 },
    });
    custom.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': ['PagesQueueF48F9D55', 'Arn'] },
      BatchSize: 50,
      MaximumBatchingWindowInSeconds: 5,
      ScalingConfig: { MaximumConcurrency: 3 },
    });
    custom.hasResourceProperties('AWS::Lambda::Function', { MemorySize: 2048, Timeout: 30 });
    custom.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 180, RedrivePolicy: Match.anyValue() });
  });

  it("reads the turn queue in the configured batch size, gathering for at most a second: its URLs are due", () => {
    const { template: custom } = synthStack({ consumer: { batchSize: 50, maxBatchingWindowSeconds: 5, pageConcurrency: 50 } });
    custom.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': ['PagesTurnQueue2B801DCA', 'Arn'] },
      BatchSize: 50,
      MaximumBatchingWindowInSeconds: 1,
    });
  });
});

describe('functions', () => {
  it('the consumer may delay a retry (ChangeMessageVisibility) and knows its last attempt and its limits', () => {
    const id = functionId(template, 'Consume');
    const actions = actionsOf(template, id).flatMap((s) => s.actions);
    expect(actions).toEqual(expect.arrayContaining(['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:ReceiveMessage', 'sqs:SendMessage']));
    const variables = resources('AWS::Lambda::Function')[id]!.Properties['Environment'].Variables;
    expect(variables).toMatchObject({
      MAX_ATTEMPTS: '5',
      RETRY_BASE_DELAY_SECONDS: '10',
      RETRY_MAX_DELAY_SECONDS: '300',
      FETCH_CONNECT_TIMEOUT_MS: '5000',
      FETCH_HEADERS_TIMEOUT_MS: '8000',
      FETCH_TIMEOUT_MS: '10000',
    });
    template.hasResourceProperties('AWS::SQS::Queue', { RedrivePolicy: Match.objectLike({ maxReceiveCount: 5 }) });
  });

  it('run Node.js 24 on arm64', () => {
    const fns = Object.values(resources('AWS::Lambda::Function'));
    expect(fns.length).toBeGreaterThanOrEqual(3);
    for (const fn of fns) expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'] });
  });

  it('get the table name and queue URL they use, with a grant for each', () => {
    for (const name of ['Submit', 'Consume']) {
      const fn = resources('AWS::Lambda::Function')[functionId(template, name)]!;
      expect(Object.keys(fn.Properties['Environment'].Variables)).toEqual(expect.arrayContaining(['CRAWL_TABLE_NAME', 'PAGE_QUEUE_URL']));
      const actions = actionsOf(template, functionId(template, name)).flatMap((s) => s.actions);
      // GetItem: both end a crawl through completeIfDone, which reads the crawl item before it writes.
      expect(actions).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'sqs:SendMessage']));
    }
  });

  it('the read function may only get, batch-get and query the table', () => {
    const statements = actionsOf(template, functionId(template, 'Read'));
    expect(statements.flatMap((s) => s.actions).sort()).toEqual(['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:Query']);
    const fn = resources('AWS::Lambda::Function')[functionId(template, 'Read')]!;
    expect(fn.Properties['Environment'].Variables['PAGE_QUEUE_URL']).toBeUndefined();
  });

  it('get the same variables, with the same settings, as the local stack gives its containers', () => {
    const config = parseCrawlerConfig(shippedConfig());
    for (const [name, def] of Object.entries(functionDefinitions(config))) {
      const fn = resources('AWS::Lambda::Function')[functionId(template, def.handlerFile.replace(/^./, (c) => c.toUpperCase()))]!;
      const deployed = fn.Properties['Environment'].Variables as Record<string, unknown>;
      const local = { ...BASE_ENVIRONMENT, ...def.environment, ...resourceEnvironment(def.settings, { table: 'table', queue: 'queue', turnQueue: 'turnQueue', webhookQueue: 'webhookQueue', eventBus: 'eventBus', secret: 'secret' }) };
      expect(Object.keys(deployed).sort(), name).toEqual(Object.keys(local).sort());
      // Settings are plain strings in both; resource names are tokens on AWS.
      for (const [key, value] of Object.entries({ ...BASE_ENVIRONMENT, ...def.environment })) expect([name, key, deployed[key]]).toEqual([name, key, value]);
      expect(fn.Properties).toMatchObject({ MemorySize: def.memorySize, Timeout: def.timeoutSeconds });
    }
  });

  it('no function may scan, delete or administer the table', () => {
    for (const name of ['Submit', 'Read', 'Consume', 'Reconcile']) {
      const actions = actionsOf(template, functionId(template, name)).flatMap((s) => s.actions);
      expect(actions.filter((a) => /dynamodb:(Scan|DeleteItem|DeleteTable|\*)/.test(a)), name).toEqual([]);
    }
  });
});

describe('reconciler', () => {
  it('runs every minute, without retries (the next minute does the same work)', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [functionId(template, 'Reconcile'), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 0 } })],
    });
  });

  it('counts the turn queue’s backlog too, allowed only to read its attributes', () => {
    const id = functionId(template, 'Reconcile');
    expect(resources('AWS::Lambda::Function')[id]!.Properties['Environment'].Variables['TURN_QUEUE_URL']).toEqual({ Ref: 'PagesTurnQueue2B801DCA' });
    const onTurnQueue = actionsOf(template, id).filter((s) => JSON.stringify(s.resources).includes('PagesTurnQueue2B801DCA'));
    expect(onTurnQueue.flatMap((s) => s.actions)).toEqual(['sqs:GetQueueAttributes']);
  });

  it('takes its quiet period and requeue limit from configuration', () => {
    const { template: custom } = synthStack({ ...(shippedConfig() as object), reconcile: { afterSeconds: 400, maxRequeues: 5 } });
    custom.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ RECONCILE_AFTER_SECONDS: '400', RECONCILE_MAX_REQUEUES: '5', PAGE_QUEUE_URL: Match.anyValue() }) },
    });
  });

  it('is the only function that may read the running-crawls index, and only that index', () => {
    const indexArn = (r: unknown) => JSON.stringify(r).includes('/index/');
    const statements = actionsOf(template, functionId(template, 'Reconcile'));
    const onIndex = statements.filter((s) => indexArn(s.resources));
    expect(JSON.stringify(onIndex.map((s) => s.resources))).toContain('/index/running');
    expect(JSON.stringify(onIndex.map((s) => s.resources))).not.toContain('/index/*');
    expect(statements.flatMap((s) => s.actions)).toEqual(expect.arrayContaining(['dynamodb:Query', 'dynamodb:BatchGetItem', 'sqs:SendMessage']));
    for (const name of ['Submit', 'Read', 'Consume']) {
      expect(actionsOf(template, functionId(template, name)).filter((s) => indexArn(s.resources)), name).toEqual([]);
    }
  });
});

describe('table', () => {
  it('has a keys-only index of running crawls for the reconciler', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: [
        {
          IndexName: 'running',
          KeySchema: [{ AttributeName: 'runningShard', KeyType: 'HASH' }, { AttributeName: 'PK', KeyType: 'RANGE' }],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    });
  });

  it('is on-demand, with point-in-time recovery, a TTL attribute and the shared key schema', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      KeySchema: [{ AttributeName: 'PK', KeyType: 'HASH' }, { AttributeName: 'SK', KeyType: 'RANGE' }],
    });
  });
});

describe('schedules', () => {
  it('ships the example schedule disabled, invoking the submit function with its crawl', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      State: 'DISABLED',
      ScheduleExpression: 'cron(0 3 * * ? *)',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [functionId(template, 'Submit'), 'Arn'] },
          // The event's id and time ride along, so a retried invocation finds the crawl its first try recorded.
          InputTransformer: {
            InputPathsMap: Match.objectLike({ id: '$.id', time: '$.time' }),
            InputTemplate: Match.stringLikeRegexp('"schedule":"nightly-example".*"urls":\\["https://example.com/"\\].*"eventId":<id>,"time":<time>'),
          },
          DeadLetterConfig: Match.anyValue(),
        }),
      ],
    });
  });

  it('enables a schedule the configuration enables', () => {
    const { template: custom } = synthStack({
      schedules: [{ name: 'hourly', expression: 'rate(1 hour)', crawl: { urls: ['https://a.example/'] } }],
    });
    custom.hasResourceProperties('AWS::Events::Rule', { State: 'ENABLED', ScheduleExpression: 'rate(1 hour)' });
  });

  it('send the invocations EventBridge could not deliver to a dead-letter queue of their own, which a stack without schedules lacks', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      State: 'DISABLED',
      Targets: [Match.objectLike({ DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['ScheduleDeadLetterQueue0D6B48D2', 'Arn'] } } })],
    });
    const { template: none } = synthStack({ ...(shippedConfig() as object), schedules: [] });
    expect(Object.keys(none.findResources('AWS::SQS::Queue')).filter((id) => id.startsWith('Schedule'))).toEqual([]);
  });

  it('refuses a schedule with an invalid URL at synth time', () => {
    expect(() => synthStack({ schedules: [{ name: 'bad', expression: 'rate(1 hour)', crawl: { urls: ['ftp://x/'] } }] })).toThrow(/schedule "bad"/);
  });
});

describe('updates', () => {
  it('keep the logical ids deployed stacks have, so an update never replaces the table, a queue, a queue policy, a function or a log group', () => {
    const ids = Object.keys(template.toJSON()['Resources'] as object);
    expect(ids).toEqual(
      expect.arrayContaining([
        'StoreTable0CCFA19B',
        'PagesQueueF48F9D55',
        'PagesQueuePolicyDA5A42DA',
        'PagesDeadLetterQueue8134F9B3',
        'PagesDeadLetterQueuePolicy671CA7F7',
        'ScheduleDeadLetterQueue0D6B48D2',
        // A queue policy under a new id would be created, then the old one deleted, and with it the queue's policy.
        'ScheduleDeadLetterQueuePolicy71B1C1FF',
        'SubmitFunction6C3E2BAF',
        'SubmitLogsCC177F41',
        'ReadFunction6743EAEA',
        'ReadLogs077A45FC',
        'ConsumerConsumeFunction82326BC6',
        'ConsumerConsumeLogs238FABC0',
        'ReconcilerReconcileFunctionB00A02CF',
        'ReconcilerReconcileLogsF41AEDAB',
      ]),
    );
  });
});

describe('outputs', () => {
  it('names the API URL, table and queues', () => {
    expect(Object.keys(template.findOutputs('*'))).toEqual(expect.arrayContaining(['ApiUrl', 'TableName', 'QueueUrl', 'DeadLetterQueueUrl']));
  });
});
