import { Duration, Stack } from 'aws-cdk-lib';
import { RestApi } from 'aws-cdk-lib/aws-apigateway';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { CrawlerApi } from '../../lib/api.js';
import { parseCrawlerConfig } from '../../lib/config.js';
import { Consumer, type ConsumerProps } from '../../lib/consumer.js';
import { CrawlerFunction } from '../../lib/crawler-function.js';
import { functionDefinitions } from '../../lib/function-definitions.js';
import { CrawlerMonitoring } from '../../lib/monitoring.js';
import { PageQueue } from '../../lib/queue.js';
import { crawlQueues } from '../../lib/resources.js';
import { testApp } from '../support/stack.js';

/** Each construct on its own, with the settings a default configuration gives it. */
const definitions = functionDefinitions(parseCrawlerConfig({}));
const newStack = () => new Stack(testApp(), 'Constructs');

function consumer(overrides: Partial<ConsumerProps> = {}): void {
  const stack = newStack();
  const pages = new PageQueue(stack, 'Pages', crawlQueues(parseCrawlerConfig({})));
  new Consumer(stack, 'Consumer', {
    definition: definitions.consume,
    queue: pages.queue,
    turnQueue: pages.turnQueue,
    table: new Table(stack, 'Table', { partitionKey: { name: 'PK', type: AttributeType.STRING } }),
    batchSize: 16,
    maxBatchingWindowSeconds: 1,
    ...overrides,
  });
}

describe('CrawlerFunction', () => {
  it('is the function itself, at <id>/Function with its log group beside it at <id>/Logs (the paths deployed stacks have)', () => {
    const stack = newStack();
    const fn = new CrawlerFunction(stack, 'Submit', { definition: definitions.submit });
    expect(fn.node.path).toBe('Constructs/Submit/Function');
    expect(stack.node.findChild('Submit').node.tryFindChild('Logs')).toBeDefined();
  });

  it('fails synth while a resource its settings read is not bound, naming the variable', () => {
    const app = testApp();
    new CrawlerFunction(new Stack(app, 'Constructs'), 'Read', { definition: definitions.read });
    expect(() => app.synth()).toThrow('CrawlerFunction Read reads CRAWL_TABLE_NAME, but no table is bound to it');
  });

  it('refuses a queue its settings do not read', () => {
    const stack = newStack();
    const read = new CrawlerFunction(stack, 'Read', { definition: definitions.read });
    expect(() => read.bindQueueForSending(new Queue(stack, 'Queue'))).toThrow('CrawlerFunction Read: its settings (functions/settings/read.ts) read no queue');
  });

  it('refuses at synth time a memory size Lambda does not offer, naming the function and the value', () => {
    expect(() => new CrawlerFunction(newStack(), 'Read', { definition: { ...definitions.read, memorySize: 64 } })).toThrow(
      'CrawlerFunction Read: memorySize must be an integer from 128 to 10240, not 64',
    );
  });
});

describe('Consumer', () => {
  it('accepts the settings a default configuration gives it', () => {
    expect(() => consumer()).not.toThrow();
  });

  it('refuses a batch over 10 without a batching window, as Lambda would at deploy time', () => {
    expect(() => consumer({ batchSize: 11, maxBatchingWindowSeconds: 0 })).toThrow(/batchSize over 10 \(11\) needs a maxBatchingWindowSeconds of at least 1/);
  });

  it('refuses a queue whose visibility timeout is shorter than 6× its timeout', () => {
    const stack = newStack();
    expect(
      () =>
        new Consumer(stack, 'Consumer', {
          definition: definitions.consume,
          queue: new Queue(stack, 'Short', { visibilityTimeout: Duration.seconds(60) }),
          turnQueue: new Queue(stack, 'Turns', { visibilityTimeout: Duration.seconds(360) }),
          table: new Table(stack, 'Table', { partitionKey: { name: 'PK', type: AttributeType.STRING } }),
          batchSize: 16,
          maxBatchingWindowSeconds: 1,
        }),
    ).toThrow("the queue's visibility timeout (60 s) must be at least 6× the function's timeout (60 s)");
  });

  it('refuses a turn queue whose visibility timeout is shorter than 6× its timeout', () => {
    const stack = newStack();
    expect(() => consumer({ turnQueue: new Queue(stack, 'ShortTurns', { visibilityTimeout: Duration.seconds(120) }) })).toThrow(
      "the turn queue's visibility timeout (120 s) must be at least 6× the function's timeout (60 s)",
    );
  });

  it('lists every problem in one error', () => {
    expect(() => consumer({ batchSize: 0, maxBatchingWindowSeconds: 301 })).toThrow(
      'Consumer Consumer:\n- batchSize must be an integer from 1 to 10000, not 0\n- maxBatchingWindowSeconds must be an integer from 0 to 300, not 301',
    );
  });
});

describe('PageQueue', () => {
  it('refuses a maxReceiveCount SQS does not allow', () => {
    expect(() => new PageQueue(newStack(), 'Pages', { ...crawlQueues(parseCrawlerConfig({})), maxReceiveCount: 0 })).toThrow(
      'PageQueue Pages: maxReceiveCount must be an integer from 1 to 1000, not 0',
    );
  });
});

describe('CrawlerApi', () => {
  it('refuses a throttle rate that is not above 0', () => {
    const stack = newStack();
    const fn = new CrawlerFunction(stack, 'Read', { definition: definitions.read });
    expect(
      () => new CrawlerApi(stack, 'Http', { functions: { submit: fn, read: fn }, throttleRateLimit: 0, throttleBurstLimit: 10, createCloudWatchRole: false }),
    ).toThrow('CrawlerApi Http: throttleRateLimit must be a number above 0, not 0');
  });
});

describe('CrawlerMonitoring', () => {
  it('refuses an alarm email that is not an address', () => {
    const stack = newStack();
    const fn = new CrawlerFunction(stack, 'Read', { definition: definitions.read });
    const queue = new Queue(stack, 'Queue');
    const api = new RestApi(stack, 'Api');
    api.root.addMethod('GET');
    expect(
      () =>
        new CrawlerMonitoring(stack, 'Monitoring', {
          functions: { submit: fn, read: fn, consume: fn, reconcile: fn },
          queue,
          deadLetterQueue: queue,
          turnQueue: queue,
          webhookDeadLetterQueue: queue,
          publishFailureQueue: queue,
          api,
          alarmEmail: 'ops at example.com',
          oldestMessageAgeAlarmSeconds: 900,
        }),
    ).toThrow('CrawlerMonitoring Monitoring: alarmEmail must be an email address, not "ops at example.com"');
  });
});
