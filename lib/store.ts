import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, StreamViewType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { crawlTable } from './resources.js';

export interface CrawlStoreProps {
  readonly removalPolicy?: RemovalPolicy;
}

/** The crawl table and its stream, from the definition the local stack uses too. */
export class CrawlStoreTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string, props: CrawlStoreProps = {}) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      partitionKey: { name: crawlTable.partitionKey.name, type: AttributeType.STRING },
      sortKey: { name: crawlTable.sortKey.name, type: AttributeType.STRING },
      timeToLiveAttribute: crawlTable.timeToLiveAttribute,
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      stream: StreamViewType[crawlTable.stream],
    });
    for (const index of crawlTable.globalIndexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: { name: index.partitionKey.name, type: AttributeType.STRING },
        sortKey: { name: index.sortKey.name, type: AttributeType.STRING },
        projectionType: ProjectionType.KEYS_ONLY,
      });
    }
  }
}
