import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../functions/env.js';
import { Grant } from 'aws-cdk-lib/aws-iam';
import { BUNDLING } from './bundling.js';
import { BASE_ENVIRONMENT, TABLE_ACCESS, TABLE_INDEXES, type FunctionDefinition } from './function-definitions.js';

export interface CrawlerFunctionProps {
  /** What the function is (lib/function-definitions.ts): the local stack runs the same definition. */
  readonly definition: FunctionDefinition;
  readonly tracing?: boolean;
}

const handlersDir = fileURLToPath(new URL('../functions/handlers/', import.meta.url));
const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/**
 * Every default a crawler function shares: Node.js 24 on arm64, ESM bundle minified with source maps by the locally
 * installed esbuild (no Docker), its own log group with a retention, JSON logs. Its memory, timeout and settings come
 * from its definition; the variables naming resources are added only through the bind methods, each together with
 * the grant it needs.
 */
export class CrawlerFunction extends Construct {
  readonly function: NodejsFunction;
  private readonly definition: FunctionDefinition;

  constructor(scope: Construct, id: string, props: CrawlerFunctionProps) {
    super(scope, id);
    const def = (this.definition = props.definition);
    const logGroup = new LogGroup(this, 'Logs', { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    this.function = new NodejsFunction(this, 'Function', {
      entry: `${handlersDir}${def.handlerFile}.ts`,
      projectRoot,
      depsLockFilePath: `${projectRoot}package-lock.json`,
      description: def.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: def.memorySize,
      timeout: Duration.seconds(def.timeoutSeconds),
      logGroup,
      tracing: props.tracing ? Tracing.ACTIVE : Tracing.DISABLED,
      environment: { ...BASE_ENVIRONMENT, ...def.environment },
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

  /** The table's name and retention, and the actions the definition's access needs on the table and no index but its own. */
  bindTable(table: ITable, retentionDays: number): this {
    const indexes = TABLE_INDEXES[this.definition.tableAccess] ?? [];
    Grant.addToPrincipal({
      grantee: this.function,
      actions: [...TABLE_ACCESS[this.definition.tableAccess]],
      resourceArns: [table.tableArn, ...indexes.map((index) => `${table.tableArn}/index/${index}`)],
    });
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
