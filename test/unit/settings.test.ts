import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_POLICY } from '../../functions/core/crawl/retry-policy.js';
import { DEFAULT_FETCH_LIMITS } from '../../functions/core/fetch/fetch-limits.js';
import { CONSUME_SETTINGS } from '../../functions/settings/consume.js';
import { READ_SETTINGS } from '../../functions/settings/read.js';
import { RECONCILE_SETTINGS } from '../../functions/settings/reconcile.js';
import { configuredEnvironment, loadSettings, resourceEnvironment, settingsIn } from '../../functions/settings/setting.js';
import { SUBMIT_SETTINGS } from '../../functions/settings/submit.js';
import { DEFAULT_USER_AGENT } from '../../functions/core/fetch/user-agent.js';

const resources = { CRAWL_TABLE_NAME: 'crawls', PAGE_QUEUE_URL: 'https://sqs.example/pages', TURN_QUEUE_URL: 'https://sqs.example/page-turns' };

describe('function settings', () => {
  it('give every setting left unset its default, the core\'s fetch limits and retry policy among them', () => {
    const settings = loadSettings(CONSUME_SETTINGS, resources);
    expect(settings).toEqual({
      table: { tableName: 'crawls', retentionDays: 30 },
      queue: { queueUrl: 'https://sqs.example/pages' },
      turnQueue: { queueUrl: 'https://sqs.example/page-turns' },
      pageConcurrency: 16,
      parseThreads: 0,
      fetch: DEFAULT_FETCH_LIMITS,
      retry: DEFAULT_RETRY_POLICY,
      politeness: { userAgent: DEFAULT_USER_AGENT, hostDelayMs: 1_000, maxCrawlDelaySeconds: 30, maxThrottleMs: 60_000 },
    });
  });

  it('refuse a text setting that could not go into a header', () => {
    expect(() => loadSettings(CONSUME_SETTINGS, { ...resources, USER_AGENT: 'bot/1\r\nX: y' })).toThrow(/USER_AGENT must be printable ASCII/);
    expect(loadSettings(CONSUME_SETTINGS, { ...resources, USER_AGENT: 'bot/1.0' }).politeness.userAgent).toBe('bot/1.0');
  });

  it('read what the environment sets, in the shapes the core takes', () => {
    const settings = loadSettings(RECONCILE_SETTINGS, { ...resources, RETENTION_DAYS: '7', RECONCILE_AFTER_SECONDS: ' 400 ', RECONCILE_MAX_REQUEUES: '0' });
    expect(settings).toEqual({
      table: { tableName: 'crawls', retentionDays: 7 },
      queue: { queueUrl: 'https://sqs.example/pages' },
      turnQueue: { queueUrl: 'https://sqs.example/page-turns' },
      afterSeconds: 400,
      maxRequeues: 0,
    });
  });

  it('fail at cold start on a missing resource or a bad value, naming every variable at fault in one error', () => {
    expect(() => loadSettings(CONSUME_SETTINGS, { PAGE_QUEUE_URL: 'q', TURN_QUEUE_URL: 't', PAGE_CONCURRENCY: 'sixteen', FETCH_MAX_REDIRECTS: '-1', PARSE_THREADS: '' })).toThrow(
      "The function's settings are not usable:\n" +
        '- CRAWL_TABLE_NAME is required but not set\n' +
        '- PAGE_CONCURRENCY must be an integer from 1 to 256, not "sixteen"\n' +
        '- PARSE_THREADS must be an integer from 0 to 6, not ""\n' +
        '- FETCH_MAX_REDIRECTS must be an integer from 0 to 20, not "-1"',
    );
  });

  it('are read when a handler loads, so a function without them fails at its cold start', async () => {
    expect(process.env['CRAWL_TABLE_NAME']).toBeUndefined();
    await expect(import('../../functions/handlers/read.js')).rejects.toThrow('- CRAWL_TABLE_NAME is required but not set');
  });

  it('lift ALLOW_PRIVATE_NETWORK only for the exact string "true"', () => {
    for (const almost of ['TRUE', 'True', ' true', 'true ', '1', 'yes', 'on', '']) {
      expect(loadSettings(CONSUME_SETTINGS, { ...resources, ALLOW_PRIVATE_NETWORK: almost }).fetch.allowPrivateNetwork, almost).toBe(false);
    }
    expect(loadSettings(CONSUME_SETTINGS, { ...resources, ALLOW_PRIVATE_NETWORK: 'true' }).fetch.allowPrivateNetwork).toBe(true);
  });

  it('are set from the deployment as the integers only: resources come from bindings, switches never from a deployment', () => {
    const environment = configuredEnvironment(READ_SETTINGS, { table: { retentionDays: 12 } });
    expect(environment).toEqual({ RETENTION_DAYS: '12' });
    expect(resourceEnvironment(SUBMIT_SETTINGS, { table: 't', queue: 'q' })).toEqual({ CRAWL_TABLE_NAME: 't', PAGE_QUEUE_URL: 'q' });
    expect(resourceEnvironment(READ_SETTINGS, { table: 't', queue: 'q' })).toEqual({ CRAWL_TABLE_NAME: 't' });
  });

  it('give each of a function\'s settings a variable of its own', () => {
    for (const settings of [SUBMIT_SETTINGS, READ_SETTINGS, CONSUME_SETTINGS, RECONCILE_SETTINGS]) {
      const names = settingsIn(settings).map((s) => s.env);
      expect(new Set(names).size).toBe(names.length);
    }
  });
});
