import { CreateTableCommand, DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { CrawlerConfig } from '../lib/config.js';
import { crawlQueues, crawlTable, publishFailureQueue, webhookQueues, type PageQueuesDefinition, type QueueDefinition, type QueuePairDefinition } from '../lib/resources.js';

export interface ProvisionedResources {
  tableName: string;
  /** The table's stream, which the publish function reads. */
  streamArn: string;
  queueUrl: string;
  queueArn: string;
  deadLetterQueueUrl: string;
  /** URLs waiting for their host's turn; the consumer's second event source reads it. */
  turnQueueUrl: string;
  turnQueueArn: string;
  webhookQueueUrl: string;
  webhookQueueArn: string;
  webhookDeadLetterQueueUrl: string;
  /** Where the stream's event source describes the records the publish function failed on through every retry. */
  publishFailureQueueUrl: string;
}

/**
 * Creates the table and queues on the local engines from lib/resources.ts, the definitions the CDK stack is built
 * from: same keys, TTL attribute, stream, visibility timeout, retention and redrive policy.
 */
export async function provision(
  clients: { dynamodb: DynamoDBClient; sqs: SQSClient },
  config: CrawlerConfig,
  prefix = 'serverless-crawler',
): Promise<ProvisionedResources> {
  const tableName = `${prefix}-${crawlTable.logicalName}`;
  const keyAttributes = [crawlTable.partitionKey, crawlTable.sortKey, ...crawlTable.globalIndexes.flatMap((i) => [i.partitionKey, i.sortKey])];
  const created = await clients.dynamodb.send(
    new CreateTableCommand({
      TableName: tableName,
      StreamSpecification: { StreamEnabled: true, StreamViewType: crawlTable.stream },
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [...new Map(keyAttributes.map((a) => [a.name, { AttributeName: a.name, AttributeType: a.type }])).values()],
      KeySchema: [
        { AttributeName: crawlTable.partitionKey.name, KeyType: 'HASH' },
        { AttributeName: crawlTable.sortKey.name, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: crawlTable.globalIndexes.map((index) => ({
        IndexName: index.indexName,
        KeySchema: [
          { AttributeName: index.partitionKey.name, KeyType: 'HASH' },
          { AttributeName: index.sortKey.name, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: index.projection },
      })),
    }),
  );
  await clients.dynamodb.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: crawlTable.timeToLiveAttribute, Enabled: true },
    }),
  );

  const pages = await createPageQueues(clients.sqs, prefix, crawlQueues(config));
  const webhooks = await createQueuePair(clients.sqs, prefix, webhookQueues());
  const failures = await createQueue(clients.sqs, prefix, publishFailureQueue);
  return {
    tableName,
    streamArn: created.TableDescription!.LatestStreamArn!,
    queueUrl: pages.queueUrl,
    queueArn: pages.queueArn,
    deadLetterQueueUrl: pages.deadLetterQueueUrl,
    turnQueueUrl: pages.turnQueueUrl,
    turnQueueArn: pages.turnQueueArn,
    webhookQueueUrl: webhooks.queueUrl,
    webhookQueueArn: webhooks.queueArn,
    webhookDeadLetterQueueUrl: webhooks.deadLetterQueueUrl,
    publishFailureQueueUrl: failures,
  };
}

async function createQueue(sqs: SQSClient, prefix: string, def: QueueDefinition, redrive?: { deadLetterTargetArn: string; maxReceiveCount: number }): Promise<string> {
  const out = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${prefix}-${def.logicalName}`,
      Attributes: {
        VisibilityTimeout: String(def.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(def.retentionSeconds),
        ReceiveMessageWaitTimeSeconds: String(def.receiveWaitTimeSeconds),
        ...(redrive ? { RedrivePolicy: JSON.stringify(redrive) } : {}),
      },
    }),
  );
  return out.QueueUrl!;
}

/** A queue and its DLQ, by redrive policy. */
async function createQueuePair(sqs: SQSClient, prefix: string, def: QueuePairDefinition) {
  const deadLetterQueueUrl = await createQueue(sqs, prefix, def.deadLetterQueue);
  const redrive = { deadLetterTargetArn: await queueArn(sqs, deadLetterQueueUrl), maxReceiveCount: def.maxReceiveCount };
  const queueUrl = await createQueue(sqs, prefix, def.queue, redrive);
  return { queueUrl, queueArn: await queueArn(sqs, queueUrl), deadLetterQueueUrl, redrive };
}

/** The page queue, its DLQ, and the turn queue, which dead-letters to the same DLQ (the pair's redrive policy). */
async function createPageQueues(sqs: SQSClient, prefix: string, def: PageQueuesDefinition) {
  const pair = await createQueuePair(sqs, prefix, def);
  const turnQueueUrl = await createQueue(sqs, prefix, def.turnQueue, pair.redrive);
  return { ...pair, turnQueueUrl, turnQueueArn: await queueArn(sqs, turnQueueUrl) };
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  return out.Attributes!['QueueArn']!;
}
