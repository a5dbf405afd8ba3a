/**
 * The API's routes, named once: the CDK API construct builds API Gateway resources from this table and the local
 * API server matches requests against it, so the two cannot disagree. Requests that match no route (an unknown
 * path, or a known path with another method) go to the fallback function, which answers 404 or 405 in JSON.
 */
export type FunctionName = 'submit' | 'read';

export interface Route {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly resource: string;
  readonly function: FunctionName;
}

export const ROUTES: readonly Route[] = [
  { method: 'POST', resource: '/crawls', function: 'submit' },
  { method: 'GET', resource: '/crawls', function: 'read' },
  { method: 'GET', resource: '/crawls/{crawlId}', function: 'read' },
  // A write, so not the read function (read grants only): the submit function, which already writes crawl items.
  { method: 'DELETE', resource: '/crawls/{crawlId}', function: 'submit' },
  { method: 'GET', resource: '/crawls/{crawlId}/pages', function: 'read' },
  { method: 'GET', resource: '/pages', function: 'read' },
];

export const FALLBACK_FUNCTION: FunctionName = 'read';

/** Methods each resource allows, for 405's Allow header. */
export function allowedMethods(resource: string): string[] {
  return ROUTES.filter((r) => r.resource === resource).map((r) => r.method);
}
