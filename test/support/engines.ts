import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createDocumentClient, DynamoCrawlStore } from '../../functions/adapters/dynamodb/index.js';
import { parseCrawlerConfig, type CrawlerConfig } from '../../lib/config.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal, startSqsServer } from '../../local/engines.js';
import { provision, type ProvisionedResources } from '../../local/provision.js';

export interface Engines {
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
  resources: ProvisionedResources;
  config: CrawlerConfig;
  /** The DynamoDB adapter on this table, as the functions build it (retention 1 day). */
  store: DynamoCrawlStore;
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
    store: new DynamoCrawlStore({ tableName: resources.tableName, retentionDays: 1, client: createDocumentClient(dynamodb) }),
    stop: async () => {
      dynamodb.destroy();
      sqs.destroy();
      await Promise.all([ddb.stop(), sqsServer.stop()]);
    },
  };
}
