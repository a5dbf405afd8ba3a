import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { DomainError, type DomainErrorKind } from '../core/model/errors.js';

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

/** A request the HTTP layer itself refuses (wrong media type, no such route…), before any use case runs. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Each kind of domain error's status: the only place the core's errors meet HTTP. */
const STATUS_OF: Record<DomainErrorKind, number> = { invalid: 400, 'not-found': 404, 'too-large': 413, conflict: 409, unavailable: 503 };

/**
 * The one place errors become responses: a domain error gets its kind's status, an HttpError its own, both with their
 * code and message; anything else is logged in full and answered with a generic 500, so no stack trace or SDK text
 * reaches a client.
 */
export function errorResponse(err: unknown, logger: Logger): APIGatewayProxyResult {
  if (err instanceof DomainError) {
    return json(STATUS_OF[err.kind], { error: { code: err.code, message: err.message, ...err.details } });
  }
  if (err instanceof HttpError) return json(err.status, { error: { code: err.code, message: err.message } }, err.headers);
  logger.error('request failed', { error: err as Error });
  return json(500, { error: { code: 'INTERNAL_ERROR', message: 'something went wrong on our side; try again later' } });
}

/** Runs a route body and maps its result or error to a response. */
export async function respond(logger: Logger, run: () => Promise<APIGatewayProxyResult>): Promise<APIGatewayProxyResult> {
  try {
    return await run();
  } catch (err) {
    return errorResponse(err, logger);
  }
}

/** Largest body we parse; API Gateway stops at 10 MB, and a 10,000-URL request fits well under this. */
export const MAX_BODY_BYTES = 6 * 1024 * 1024;

/** The request body as JSON, with 415/413/400 for the wrong type, too large, or malformed. */
export function parseJsonBody(event: APIGatewayProxyEvent): unknown {
  const contentType = header(event, 'content-type') ?? '';
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(contentType.trim())) {
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as Content-Type: application/json');
  }
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) {
    throw new HttpError(413, 'BODY_TOO_LARGE', `the body is larger than ${MAX_BODY_BYTES} bytes`);
  }
  if (text.trim() === '') throw new HttpError(400, 'INVALID_JSON', 'the body is empty; send a JSON object');
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'INVALID_JSON', 'the body is not valid JSON');
  }
}

export function header(event: APIGatewayProxyEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) if (key.toLowerCase() === wanted && value !== undefined) return value;
  return undefined;
}

/** The public base URL of the API this request came through, stage included (`https://id.execute-api…/prod`). */
export function apiBaseUrl(event: APIGatewayProxyEvent): string | null {
  const domain = event.requestContext?.domainName ?? header(event, 'host');
  if (!domain) return null;
  const proto = header(event, 'x-forwarded-proto') ?? 'https';
  const stage = event.requestContext?.stage;
  const stagePath = stage && stage !== '$default' ? `/${stage}` : '';
  return `${proto}://${domain}${stagePath}`;
}
