import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

// One client per container; it sends nothing until a secret is read.
const client = new SecretsManagerClient({});

const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:/;

/**
 * The value of a secret setting, read once at cold start: a Secrets Manager ARN is read from Secrets Manager (its
 * current version); anything else is the value itself (the local stack's). Never logged.
 */
export async function secretValue(setting: string): Promise<string> {
  if (!SECRET_ARN.test(setting)) return setting;
  const out = await client.send(new GetSecretValueCommand({ SecretId: setting }));
  if (typeof out.SecretString !== 'string' || out.SecretString === '') {
    throw new Error(`the secret ${setting} has no text value`);
  }
  return out.SecretString;
}
