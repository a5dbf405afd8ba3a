import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { secretValue } from '../../functions/adapters/secrets.js';

const secrets = mockClient(SecretsManagerClient);
const arn = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:webhook-AbCdEf';
afterAll(() => secrets.restore());
beforeEach(() => secrets.reset());

describe('the webhook secret setting', () => {
  it("reads a Secrets Manager ARN's current value", async () => {
    secrets.on(GetSecretValueCommand, { SecretId: arn }).resolves({ SecretString: 'from secrets manager' });
    expect(await secretValue(arn)).toBe('from secrets manager');
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('takes any other value as the secret itself, as the local stack passes it, without asking Secrets Manager', async () => {
    expect(await secretValue('a-local-secret')).toBe('a-local-secret');
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  it('fails on a secret without a text value rather than sign with nothing', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2]) });
    await expect(secretValue(arn)).rejects.toThrow(/has no text value/);
  });
});
