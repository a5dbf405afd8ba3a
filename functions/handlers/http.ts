import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { AppError } from '../core/errors.js';

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

/**
 * The one place errors become responses: an AppError keeps its status, code and message; anything else is logged
 * in full and answered with a generic 500, so no stack trace or SDK text reaches a client.
 */
export function errorResponse(err: unknown, logger: Logger): APIGatewayProxyResult {
  if (err instanceof AppError) {
    const headers: Record<string, string> = err.status === 405 && err.details?.['allow'] ? { allow: String(err.details['allow']) } : {};
    const { allow: _allow, ...details } = err.details ?? {};
    return json(err.status, { error: { code: err.code, message: err.message, ...details } }, headers);
  }
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
    throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as Content-Type: application/json');
  }
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) {
    throw new AppError(413, 'BODY_TOO_LARGE', `the body is larger than ${MAX_BODY_BYTES} bytes`);
  }
  if (text.trim() === '') throw new AppError(400, 'INVALID_JSON', 'the body is empty; send a JSON object');
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError(400, 'INVALID_JSON', 'the body is not valid JSON');
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
