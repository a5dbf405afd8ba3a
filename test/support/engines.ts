import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { parseCrawlerConfig, type CrawlerConfig } from '../../lib/config.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal, startSqsServer } from '../../local/engines.js';
import { provision, type ProvisionedResources } from '../../local/provision.js';

export interface Engines {
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
  resources: ProvisionedResources;
  config: CrawlerConfig;
  stop(): Promise<void>;
}

/** The real local engines with the crawler's table and queues, for integration tests of the adapters. */
export async function startEngines(rawConfig: unknown = {}): Promise<Engines> {
  const config = parseCrawlerConfig(rawConfig);
  const [ddb, sqsServer] = await Promise.all([startDynamoDbLocal(), startSqsServer()]);
  const common = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const dynamodb = new DynamoDBClient({ ...common, endpoint: ddb.endpoint });
  const sqs = new SQSClient({ ...common, endpoint: sqsServer.endpoint });
  const resources = await provision({ dynamodb, sqs }, config);
  return {
    dynamodb,
    sqs,
    resources,
    config,
    stop: async () => {
      dynamodb.destroy();
      sqs.destroy();
      await Promise.all([ddb.stop(), sqsServer.stop()]);
    },
  };
}
