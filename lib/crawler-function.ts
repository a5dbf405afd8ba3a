import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { Grant } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { RESOURCE_KINDS, resourceVariables, type ResourceKind } from '../functions/settings/setting.js';
import { BUNDLING } from './bundling.js';
import { checkProps, integerIn } from './check-props.js';
import { BASE_ENVIRONMENT, TABLE_ACCESS, TABLE_INDEXES, type FunctionDefinition } from './function-definitions.js';

export interface CrawlerFunctionProps {
  /** What the function is (lib/function-definitions.ts): the local stack runs the same definition. */
  readonly definition: FunctionDefinition;
  /** X-Ray active tracing. */
  readonly tracing?: boolean;
}

const handlersDir = fileURLToPath(new URL('../functions/handlers/', import.meta.url));
const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/**
 * A crawler function: a NodejsFunction with every default the crawler's functions share. Node.js 24 on arm64, an ESM
 * bundle minified with source maps by the locally installed esbuild (no Docker), its own log group with a retention,
 * optional X-Ray tracing; its memory, timeout and configured settings come from its definition. The variables naming
 * resources are set only through the bind methods, each together with the grant it needs: synth fails while a
 * resource its settings read is not bound, and binding one they do not read is refused.
 *
 * `new CrawlerFunction(scope, 'Submit', …)` puts the function at `Submit/Function` and its log group beside it at
 * `Submit/Logs`: the paths, and so the logical ids, that deployed stacks have (a changed logical id would replace the
 * function, its role and its log group).
 */
export class CrawlerFunction extends NodejsFunction {
  private readonly definition: FunctionDefinition;
  /** How errors name it: `CrawlerFunction Submit`. */
  private readonly label: string;
  private readonly bound = new Set<ResourceKind>();

  constructor(scope: Construct, id: string, props: CrawlerFunctionProps) {
    const def = props.definition;
    const label = `CrawlerFunction ${id}`;
    checkProps(label, [
      integerIn('memorySize', def.memorySize, 128, 10_240),
      integerIn('timeoutSeconds', def.timeoutSeconds, 1, 900),
    ]);
    const home = new Construct(scope, id);
    super(home, 'Function', {
      entry: `${handlersDir}${def.handlerFile}.ts`,
      projectRoot,
      depsLockFilePath: `${projectRoot}package-lock.json`,
      description: def.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: def.memorySize,
      timeout: Duration.seconds(def.timeoutSeconds),
      logGroup: new LogGroup(home, 'Logs', { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY }),
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
    this.definition = def;
    this.label = label;
    this.node.addValidation({
      validate: () =>
        RESOURCE_KINDS.flatMap((kind) =>
          this.bound.has(kind) ? [] : resourceVariables(def.settings, kind).map((name) => `${label} reads ${name}, but no ${kind} is bound to it`),
        ),
    });

    Validations.of(this).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'AWSLambdaBasicExecutionRole only lets the function write its own CloudWatch logs.',
    });
    // Only with tracing on: the one wildcard is X-Ray's, whose PutTraceSegments and PutTelemetryRecords take no resource.
    if (props.tracing) {
      Validations.of(this).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'X-Ray tracing (observability.tracing): xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions.',
      });
    }
  }

  /** The table's name, and the actions the definition's access needs on the table and on no index but its own. */
  bindTable(table: ITable): this {
    const access = this.definition.tableAccess;
    if (access === undefined) throw new Error(`${this.label}: its definition gives it no table access, so it is not given the table`);
    this.setResource('table', table.tableName);
    const indexes = TABLE_INDEXES[access] ?? [];
    Grant.addToPrincipal({
      grantee: this,
      actions: [...TABLE_ACCESS[access]],
      resourceArns: [table.tableArn, ...indexes.map((index) => `${table.tableArn}/index/${index}`)],
    });
    return this;
  }

  /** The queue's URL, and permission to send to it. */
  bindQueueForSending(queue: IQueue): this {
    this.setResource('queue', queue.queueUrl);
    queue.grantSendMessages(this);
    return this;
  }

  /** The turn queue's URL, and permission to send to it (receiving is its event source's). */
  bindTurnQueueForSending(queue: IQueue): this {
    this.setResource('turnQueue', queue.queueUrl);
    queue.grantSendMessages(this);
    return this;
  }

  /** The turn queue's URL, and permission to read its attributes only (the reconciler counts its backlog). */
  bindTurnQueueForCounting(queue: IQueue): this {
    this.setResource('turnQueue', queue.queueUrl);
    queue.grant(this, 'sqs:GetQueueAttributes');
    return this;
  }

  /** The webhook delivery queue's URL, and permission to send to it. */
  bindWebhookQueueForSending(queue: IQueue): this {
    this.setResource('webhookQueue', queue.queueUrl);
    queue.grantSendMessages(this);
    return this;
  }

  /**
   * The webhook delivery queue's URL, and permission to hide a received delivery until its retry
   * (ChangeMessageVisibility); receiving and deleting are its event source's.
   */
  bindWebhookQueueForRetrying(queue: IQueue): this {
    this.setResource('webhookQueue', queue.queueUrl);
    queue.grant(this, 'sqs:ChangeMessageVisibility');
    return this;
  }

  /** The bus's name, and permission to put events on that bus only. */
  bindEventBus(bus: IEventBus): this {
    this.setResource('eventBus', bus.eventBusName);
    bus.grantPutEventsTo(this);
    return this;
  }

  /** The secret's ARN, and permission to read its value (read once, at cold start). */
  bindSecret(secret: ISecret): this {
    this.setResource('secret', secret.secretArn);
    secret.grantRead(this);
    return this;
  }

  /** Sets the variables the function's settings read this kind of resource from. */
  private setResource(kind: ResourceKind, value: string): void {
    const names = resourceVariables(this.definition.settings, kind);
    if (names.length === 0) {
      throw new Error(`${this.label}: its settings (functions/settings/${this.definition.handlerFile}.ts) read no ${kind}, so it is not given one`);
    }
    for (const name of names) this.addEnvironment(name, value);
    this.bound.add(kind);
  }
}
