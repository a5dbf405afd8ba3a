import { Stack, Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { parseCrawlerConfig } from '../../lib/config.js';
import { CrawlerStack } from '../../lib/crawler-stack.js';
import { shippedConfig, testApp } from '../support/stack.js';

/** Synthesizes with cdk-nag's AwsSolutions pack and returns the error text (empty when clean). */
function nagErrors(build: (app: ReturnType<typeof testApp>) => void): string {
  const app = testApp();
  build(app);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const output: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  const writeOut = process.stdout.write.bind(process.stdout);
  const capture = ((chunk: string | Uint8Array) => (output.push(String(chunk)), true)) as typeof process.stderr.write;
  process.stderr.write = capture;
  process.stdout.write = capture;
  try {
    app.synth();
    return '';
  } catch (err) {
    return `${(err as Error).message}\n${output.join('')}`;
  } finally {
    process.stderr.write = write;
    process.stdout.write = writeOut;
  }
}

describe('cdk-nag AwsSolutions', () => {
  it('finds nothing unacknowledged in the crawler stack', () => {
    const errors = nagErrors((app) => new CrawlerStack(app, 'Nag', { config: parseCrawlerConfig(shippedConfig()) }));
    expect(errors).toBe('');
  });

  it('still finds nothing with schedules and custom settings', () => {
    const config = parseCrawlerConfig({
      consumer: { batchSize: 100, maxBatchingWindowSeconds: 5, pageConcurrency: 64 },
      schedules: [{ name: 'hourly', expression: 'rate(1 hour)', crawl: { urls: ['https://a.example/'] } }],
      observability: { tracing: true, alarmEmail: 'ops@example.com' },
    });
    expect(nagErrors((app) => new CrawlerStack(app, 'Nag', { config }))).toBe('');
  });

  it('would fail on an unacknowledged finding (the check is live)', () => {
    const errors = nagErrors((app) => new Queue(new Stack(app, 'Bare'), 'NoDlq'));
    expect(errors).toMatch(/AwsSolutions-SQS3/);
  });
});
