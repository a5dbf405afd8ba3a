import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  AuthorizationType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
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
import { checkProps, positive } from './check-props.js';

export interface CrawlerApiProps {
  /** The functions the routes invoke. */
  readonly functions: Record<FunctionName, IFunction>;
  /** The stage's steady-state requests per second. */
  readonly throttleRateLimit: number;
  /** The stage's burst of requests. */
  readonly throttleBurstLimit: number;
  /**
   * Create API Gateway's account-wide CloudWatch Logs role (retained when the stack is deleted, as other APIs in the
   * account rely on it). False where the account's role is managed elsewhere; it must exist either way.
   */
  readonly createCloudWatchRole: boolean;
  /** X-Ray tracing on the stage. */
  readonly tracing?: boolean;
}

/** The contract's error body, for the responses API Gateway makes itself (auth, throttling, GET /pages's url). */
const errorTemplate = (code: string) =>
  `{"error":{"code":"${code}","message":$context.error.messageString}}`;

/**
 * The REST API: the contract's routes from functions/handlers/routes.ts, IAM (SigV4) authorization on every method,
 * stage throttling, JSON access logs and ERROR-level execution logs. POST /crawls's body is validated by the handler
 * alone: a gateway body validator would answer some bad bodies with its own code (`{` as INVALID_REQUEST, not the
 * handler's INVALID_JSON), and the contract wants the same answer locally and on AWS.
 */
export class CrawlerApi extends Construct {
  readonly api: RestApi;

  constructor(scope: Construct, id: string, props: CrawlerApiProps) {
    super(scope, id);
    checkProps(`CrawlerApi ${id}`, [
      positive('throttleRateLimit', props.throttleRateLimit),
      positive('throttleBurstLimit', props.throttleBurstLimit, true),
    ]);
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: RetentionDays.ONE_MONTH });
    this.api = new RestApi(this, 'Api', {
      restApiName: `${Stack.of(this).stackName}-api`,
      description: 'serverless-crawler: submit crawls and read their results',
      defaultMethodOptions: { authorizationType: AuthorizationType.IAM },
      // Access and execution logs need the account's API Gateway CloudWatch role; a fresh account has none. Retained,
      // because it is one setting for the whole account and region: deleting it would break every other API's logs.
      cloudWatchRole: props.createCloudWatchRole,
      cloudWatchRoleRemovalPolicy: props.createCloudWatchRole ? RemovalPolicy.RETAIN : undefined,
      deployOptions: {
        stageName: 'v1',
        throttlingRateLimit: props.throttleRateLimit,
        throttlingBurstLimit: props.throttleBurstLimit,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
        // Errors only, and no request or response bodies (dataTraceEnabled stays off): they hold the crawled URLs.
        loggingLevel: MethodLoggingLevel.ERROR,
        tracingEnabled: props.tracing ?? false,
      },
    });

    for (const [type, code] of [
      [ResponseType.DEFAULT_4XX, '$context.error.responseType'],
      [ResponseType.DEFAULT_5XX, '$context.error.responseType'],
      // The only required parameter is GET /pages's url; the handler calls its absence MISSING_URL too.
      [ResponseType.BAD_REQUEST_PARAMETERS, 'MISSING_URL'],
    ] as const) {
      this.api.addGatewayResponse(`Gateway${type.responseType}`, {
        type,
        templates: { 'application/json': errorTemplate(code) },
      });
    }

    const parameterValidator = new RequestValidator(this, 'RequestValidator', {
      restApi: this.api,
      validateRequestParameters: true,
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
        route.resource === '/pages'
          ? { requestValidator: parameterValidator, requestParameters: { 'method.request.querystring.url': true } }
          : {};
      resourceFor(route.resource).addMethod(route.method, integration(route.function), options);
    }
    // Everything no route matches goes to the fallback function, which answers 404 or 405 in the contract's JSON,
    // instead of API Gateway's own 403 "Missing Authentication Token".
    const fallback = integration(FALLBACK_FUNCTION);
    for (const resource of resources.values()) resource.addMethod('ANY', fallback);
    this.api.root.addResource('{proxy+}').addMethod('ANY', fallback);

    Validations.of(this).acknowledge(
      {
        // The RestApi holds the account CloudWatch role when createCloudWatchRole is on.
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason: "API Gateway's account CloudWatch role: AWS's policy for exactly this role, letting API Gateway write its logs.",
      },
      {
        id: 'AwsSolutions-APIG2',
        reason: 'The handlers validate every request body, so a bad body gets the same status and error code locally and on AWS; GET /pages validates its required parameter.',
      },
      {
        id: 'AwsSolutions-APIG3',
        reason: 'Every method requires IAM (SigV4) authorization and the stage is throttled; a WAF is left to the deployer.',
      },
      { id: 'AwsSolutions-COG4', reason: 'The API uses IAM authorization (SigV4), not Cognito user pools.' },
    );
  }
}
