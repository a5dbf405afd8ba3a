import { CreateTableCommand, DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { CrawlerConfig } from '../lib/config.js';
import { crawlQueues, crawlTable } from '../lib/resources.js';

export interface ProvisionedResources {
  tableName: string;
  queueUrl: string;
  queueArn: string;
  deadLetterQueueUrl: string;
}

/**
 * Creates the table and queues on the local engines from lib/resources.ts, the definitions the CDK stack is built
 * from: same keys, TTL attribute, visibility timeout, retention and redrive policy.
 */
export async function provision(
  clients: { dynamodb: DynamoDBClient; sqs: SQSClient },
  config: CrawlerConfig,
  prefix = 'serverless-crawler',
): Promise<ProvisionedResources> {
  const tableName = `${prefix}-${crawlTable.logicalName}`;
  const keyAttributes = [crawlTable.partitionKey, crawlTable.sortKey, ...crawlTable.globalIndexes.flatMap((i) => [i.partitionKey, i.sortKey])];
  await clients.dynamodb.send(
    new CreateTableCommand({
      TableName: tableName,
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

  const def = crawlQueues(config);
  const dlq = await clients.sqs.send(
    new CreateQueueCommand({
      QueueName: `${prefix}-${def.deadLetterQueue.logicalName}`,
      Attributes: {
        MessageRetentionPeriod: String(def.deadLetterQueue.retentionSeconds),
        VisibilityTimeout: String(def.deadLetterQueue.visibilityTimeoutSeconds),
      },
    }),
  );
  const dlqArn = await queueArn(clients.sqs, dlq.QueueUrl!);
  const queue = await clients.sqs.send(
    new CreateQueueCommand({
      QueueName: `${prefix}-${def.queue.logicalName}`,
      Attributes: {
        VisibilityTimeout: String(def.queue.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(def.queue.retentionSeconds),
        ReceiveMessageWaitTimeSeconds: String(def.queue.receiveWaitTimeSeconds),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: def.maxReceiveCount }),
      },
    }),
  );
  return {
    tableName,
    queueUrl: queue.QueueUrl!,
    queueArn: await queueArn(clients.sqs, queue.QueueUrl!),
    deadLetterQueueUrl: dlq.QueueUrl!,
  };
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  return out.Attributes!['QueueArn']!;
}
