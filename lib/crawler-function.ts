import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../functions/env.js';
import { BUNDLING, type HandlerFile } from './bundling.js';

/** What each function may do to the table: only the actions its code calls (TransactWriteItems needs Put/Update). */
export const TABLE_ACCESS = {
  submit: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:GetItem'],
  consume: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
  read: ['dynamodb:GetItem', 'dynamodb:Query'],
} as const;

export interface CrawlerFunctionProps {
  /** File under functions/handlers/, without extension. */
  readonly handlerFile: HandlerFile;
  readonly description: string;
  readonly memorySize?: number;
  readonly timeout?: Duration;
  readonly environment?: Record<string, string>;
  readonly tracing?: boolean;
}

const handlersDir = fileURLToPath(new URL('../functions/handlers/', import.meta.url));
const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/**
 * Every default a crawler function shares: Node.js 24 on arm64, ESM bundle minified with source maps by the locally
 * installed esbuild (no Docker), its own log group with a retention, JSON logs. Environment variables are added only
 * through the bind methods, each together with the grant it needs, and the caller's `environment` is kept.
 */
export class CrawlerFunction extends Construct {
  readonly function: NodejsFunction;

  constructor(scope: Construct, id: string, props: CrawlerFunctionProps) {
    super(scope, id);
    const logGroup = new LogGroup(this, 'Logs', { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    this.function = new NodejsFunction(this, 'Function', {
      entry: `${handlersDir}${props.handlerFile}.ts`,
      projectRoot,
      depsLockFilePath: `${projectRoot}package-lock.json`,
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      logGroup,
      tracing: props.tracing ? Tracing.ACTIVE : Tracing.DISABLED,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_LOG_LEVEL: 'INFO',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: BUNDLING.target,
        minify: BUNDLING.minify,
        sourceMap: BUNDLING.sourceMap,
        mainFields: [...BUNDLING.mainFields],
        // Bundle the pinned SDK too, so the deployed code is the code we tested, not the runtime's copy.
        externalModules: [],
        banner: BUNDLING.banner,
      },
    });
  }

  bindTable(table: ITable, access: keyof typeof TABLE_ACCESS, retentionDays: number): this {
    table.grant(this.function, ...TABLE_ACCESS[access]);
    this.function.addEnvironment(ENV.tableName, table.tableName);
    this.function.addEnvironment(ENV.retentionDays, String(retentionDays));
    return this;
  }

  bindQueueForSending(queue: IQueue): this {
    queue.grantSendMessages(this.function);
    this.function.addEnvironment(ENV.queueUrl, queue.queueUrl);
    return this;
  }
}
