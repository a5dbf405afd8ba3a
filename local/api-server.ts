import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { redactUrl } from '../functions/core/model/url.js';
import { FALLBACK_FUNCTION, ROUTES, type FunctionName } from '../functions/handlers/routes.js';

export type ApiHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

/** API Gateway refuses payloads over 10 MB before any Lambda runs; so do we. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

interface Match {
  resource: string;
  function: FunctionName;
  pathParameters: Record<string, string> | null;
}

/** Matches a request as API Gateway would against the same route table the CDK API is built from. */
export function matchRoute(method: string, path: string): Match {
  const segments = path.split('/').slice(1);
  let resourceMatch: Omit<Match, 'function'> | null = null;
  for (const route of ROUTES) {
    const params = matchTemplate(route.resource, segments);
    if (!params) continue;
    if (route.method === method) return { resource: route.resource, function: route.function, pathParameters: params };
    resourceMatch ??= { resource: route.resource, pathParameters: params };
  }
  // A known resource with another method goes to its ANY method; anything else to the root {proxy+}.
  if (resourceMatch) return { ...resourceMatch, function: FALLBACK_FUNCTION };
  if (path === '/') return { resource: '/', function: FALLBACK_FUNCTION, pathParameters: null };
  return { resource: '/{proxy+}', function: FALLBACK_FUNCTION, pathParameters: { proxy: path.slice(1) } };
}

function matchTemplate(template: string, segments: string[]): Record<string, string> | null {
  const parts = template.split('/').slice(1);
  if (parts.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const segment = segments[i]!;
    if (part.startsWith('{') && part.endsWith('}')) {
      if (segment === '') return null;
      try {
        params[part.slice(1, -1)] = decodeURIComponent(segment);
      } catch {
        params[part.slice(1, -1)] = segment;
      }
    } else if (part !== segment) return null;
  }
  return Object.keys(params).length > 0 ? params : {};
}

/** The request target as a URL; prefixed rather than resolved, so `//x` stays a path instead of naming a host. */
const requestUrl = (req: IncomingMessage) => new URL(`http://localhost${req.url?.startsWith('/') ? req.url : `/${req.url ?? ''}`}`);

/** The request target for the log: credentials in it (`?url=https://user:pass@…`, `?token=…`) redacted. */
function loggableTarget(target: URL): string {
  const url = new URL(redactUrl(target.href));
  for (const [name, value] of [...url.searchParams]) if (URL.canParse(value)) url.searchParams.set(name, redactUrl(value));
  return `${url.pathname}${url.search}`;
}

class PayloadTooLarge extends Error {}

/** API Gateway's limit on the request line and headers together (10,240 bytes); a longer query string is refused. */
const MAX_HEADER_BYTES = 10_240;

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_PAYLOAD_BYTES) throw new PayloadTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Builds the REST API (v1) proxy event API Gateway would send for this request. */
export function toApiGatewayEvent(req: IncomingMessage, url: URL, body: Buffer, match: Match): APIGatewayProxyEvent {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!;
    const value = req.rawHeaders[i + 1]!;
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [key, value] of url.searchParams) {
    query[key] = value;
    (multiQuery[key] ??= []).push(value);
  }
  const hasQuery = Object.keys(query).length > 0;
  const method = req.method ?? 'GET';
  const host = req.headers.host ?? 'localhost';
  return {
    resource: match.resource,
    path: url.pathname,
    httpMethod: method,
    headers: { ...headers, 'X-Forwarded-Proto': 'http' },
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: match.pathParameters && Object.keys(match.pathParameters).length > 0 ? match.pathParameters : null,
    stageVariables: null,
    body: body.length > 0 ? body.toString('utf8') : null,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: undefined,
      protocol: 'HTTP/1.1',
      httpMethod: method,
      identity: { sourceIp: req.socket.remoteAddress ?? '127.0.0.1', userAgent: req.headers['user-agent'] ?? null } as APIGatewayProxyEvent['requestContext']['identity'],
      path: url.pathname,
      stage: '$default',
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: match.resource,
      domainName: host,
    },
  };
}

function send(res: ServerResponse, result: APIGatewayProxyResult): void {
  const headers: Record<string, string | number | boolean> = { ...(result.headers ?? {}) };
  const body = result.isBase64Encoded ? Buffer.from(result.body, 'base64') : Buffer.from(result.body ?? '', 'utf8');
  res.writeHead(result.statusCode, { ...headers, 'content-length': body.length });
  res.end(body);
}

const gatewayError = (statusCode: number, code: string, message: string): APIGatewayProxyResult => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ error: { code, message } }),
});

export interface LocalApi {
  url: string;
  server: Server;
  stop(): Promise<void>;
}

/** Serves the API handlers on loopback, turning HTTP requests into API Gateway events and their results back. */
export async function startApiServer(
  handlers: Record<FunctionName, ApiHandler>,
  options: { port: number; host?: string; onError?: (err: unknown) => void; onRequest?: (line: string) => void },
): Promise<LocalApi> {
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, async (req, res) => {
    const started = Date.now();
    const url = requestUrl(req);
    res.on('finish', () => options.onRequest?.(`${req.method} ${loggableTarget(url)} → ${res.statusCode} (${Date.now() - started} ms)`));
    try {
      const body = await readBody(req);
      const match = matchRoute(req.method ?? 'GET', url.pathname);
      const result = await handlers[match.function](toApiGatewayEvent(req, url, body, match));
      send(res, result);
    } catch (err) {
      if (err instanceof PayloadTooLarge) {
        // The rest of the body is never read, so this connection cannot carry another request.
        res.setHeader('connection', 'close');
        return send(res, gatewayError(413, 'REQUEST_TOO_LARGE', 'Request Too Long'));
      }
      // What API Gateway answers when the integration itself fails: never the error's text.
      options.onError?.(err);
      send(res, gatewayError(502, 'BAD_GATEWAY', 'Internal server error'));
    }
  });
  // Requests Node refuses before any handler runs (a request line or headers over the limit, a malformed request)
  // get the contract's JSON error too, as API Gateway's gateway responses give them, instead of Node's bare status.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const [status, code, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'REQUEST_TOO_LARGE', `the request line and headers are larger than ${MAX_HEADER_BYTES} bytes`]
        : [400, 'BAD_REQUEST', 'the request is not valid HTTP'];
    const body = JSON.stringify({ error: { code, message } });
    socket.end(
      `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    server,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
