import { Stack } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  AuthorizationType,
  JsonSchemaVersion,
  type JsonSchema,
  LambdaIntegration,
  LogGroupLogDestination,
  Model,
  RequestValidator,
  ResponseType,
  RestApi,
  type IResource,
  type MethodOptions,
} from 'aws-cdk-lib/aws-apigateway';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { FALLBACK_FUNCTION, ROUTES, type FunctionName } from '../functions/handlers/routes.js';
import { z } from 'zod';
import { crawlRequestSchema } from '../functions/core/crawl-request.js';
import type { CrawlerConfig } from './config.js';

export interface CrawlerApiProps {
  readonly config: CrawlerConfig;
  readonly functions: Record<FunctionName, IFunction>;
}

/**
 * POST /crawls's JSON Schema (draft 4, which API Gateway speaks), generated from the handler's zod schema. No
 * maxItems: over 10,000 URLs is the handler's 413 TOO_MANY_URLS, as the contract says, and a URL that is too long
 * is rejected on its own, not the whole request.
 */
export function crawlRequestJsonSchema(): JsonSchema {
  const { $schema: _version, ...schema } = z.toJSONSchema(crawlRequestSchema, { target: 'draft-4', io: 'input' });
  return { schema: JsonSchemaVersion.DRAFT4, ...schema } as JsonSchema;
}

/** The contract's error body, for the responses API Gateway makes itself (auth, throttling, validation). */
const errorTemplate = (code: string) =>
  `{"error":{"code":"${code}","message":$context.error.messageString}}`;

/**
 * The REST API: the contract's routes from functions/handlers/routes.ts, IAM (SigV4) authorization on every method,
 * stage throttling, JSON access logs, and body validation of POST /crawls before any Lambda runs.
 */
export class CrawlerApi extends Construct {
  readonly api: RestApi;

  constructor(scope: Construct, id: string, props: CrawlerApiProps) {
    super(scope, id);
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: RetentionDays.ONE_MONTH });
    this.api = new RestApi(this, 'Api', {
      restApiName: `${Stack.of(this).stackName}-api`,
      description: 'serverless-crawler: submit crawls and read their results',
      defaultMethodOptions: { authorizationType: AuthorizationType.IAM },
      cloudWatchRole: false,
      deployOptions: {
        stageName: 'v1',
        throttlingRateLimit: props.config.api.throttleRateLimit,
        throttlingBurstLimit: props.config.api.throttleBurstLimit,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
        tracingEnabled: props.config.observability.tracing,
      },
    });

    for (const [type, code] of [
      [ResponseType.DEFAULT_4XX, '$context.error.responseType'],
      [ResponseType.DEFAULT_5XX, '$context.error.responseType'],
      [ResponseType.BAD_REQUEST_BODY, 'INVALID_REQUEST'],
      // The only required parameter is GET /pages's url; the handler calls its absence MISSING_URL too.
      [ResponseType.BAD_REQUEST_PARAMETERS, 'MISSING_URL'],
    ] as const) {
      this.api.addGatewayResponse(`Gateway${type.responseType}`, {
        type,
        templates: { 'application/json': errorTemplate(code) },
      });
    }

    const validator = new RequestValidator(this, 'RequestValidator', {
      restApi: this.api,
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    // The same schema the handler validates with (zod), so API Gateway refuses exactly what the handler would.
    const crawlRequestModel = new Model(this, 'CrawlRequestModel', {
      restApi: this.api,
      contentType: 'application/json',
      schema: crawlRequestJsonSchema(),
    });

    const integrations = new Map<FunctionName, LambdaIntegration>();
    const integration = (name: FunctionName) => {
      let found = integrations.get(name);
      if (!found) {
        found = new LambdaIntegration(props.functions[name], { allowTestInvoke: false });
        integrations.set(name, found);
      }
      return found;
    };

    const resources = new Map<string, IResource>([['/', this.api.root]]);
    const resourceFor = (path: string): IResource => {
      const existing = resources.get(path);
      if (existing) return existing;
      const parentPath = path.slice(0, path.lastIndexOf('/')) || '/';
      const created = resourceFor(parentPath).addResource(path.slice(path.lastIndexOf('/') + 1));
      resources.set(path, created);
      return created;
    };

    for (const route of ROUTES) {
      const options: MethodOptions =
        route.method === 'POST'
          ? { requestValidator: validator, requestModels: { 'application/json': crawlRequestModel } }
          : route.resource === '/pages'
            ? { requestValidator: validator, requestParameters: { 'method.request.querystring.url': true } }
            : {};
      resourceFor(route.resource).addMethod(route.method, integration(route.function), options);
    }
    // Everything no route matches goes to the fallback function, which answers 404 or 405 in the contract's JSON,
    // instead of API Gateway's own 403 "Missing Authentication Token".
    const fallback = integration(FALLBACK_FUNCTION);
    for (const resource of resources.values()) resource.addMethod('ANY', fallback);
    this.api.root.addResource('{proxy+}').addMethod('ANY', fallback);
  }
}
