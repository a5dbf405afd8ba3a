import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { getCrawlStatus, getLatestPage, listCrawlPages, listCrawls } from '../core/crawl/read-crawls.js';
import { crawlStore } from '../adapters/from-settings.js';
import { READ_SETTINGS } from '../settings/read.js';
import { loadSettings } from '../settings/setting.js';
import { HttpError, json, respond } from './http.js';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger, metrics } from './observability.js';
import { allowedMethods } from './routes.js';

const store = crawlStore(loadSettings(READ_SETTINGS).table);

/** GET routes, plus the fallback for every request no route matched (404 or 405). */
export const handler = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  const response = await route(event);
  // One count per request by route and status class, published with this invocation's logs (EMF).
  const metric = metrics.singleMetric();
  metric.addDimension('Route', event.resource ?? 'unknown');
  metric.addMetric(response.statusCode < 400 ? 'ReadsServed' : 'ReadsRefused', MetricUnit.Count, 1);
  return response;
};

const route = (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> =>
  respond(logger, async () => {
    const crawlId = event.pathParameters?.['crawlId'] ?? '';
    const query = event.queryStringParameters ?? {};
    switch (`${event.httpMethod} ${event.resource}`) {
      case 'GET /crawls/{crawlId}':
        return json(200, await getCrawlStatus(store, crawlId));
      case 'GET /crawls':
        return json(200, await listCrawls(store, { limit: query['limit'], cursor: query['cursor'], schedule: query['schedule'] }));
      case 'GET /crawls/{crawlId}/pages':
        return json(200, await listCrawlPages(store, crawlId, { limit: query['limit'], cursor: query['cursor'], change: query['change'] }));
      case 'GET /pages':
        return json(200, await getLatestPage(store, query['url']));
      default: {
        const allow = allowedMethods(event.resource);
        if (allow.length > 0) {
          throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${event.httpMethod} is not allowed here; use ${allow.join(', ')}`, { allow: allow.join(', ') });
        }
        throw new HttpError(404, 'NOT_FOUND', `no route for ${event.httpMethod} ${event.path.length > 100 ? `${event.path.slice(0, 100)}…` : event.path}`);
      }
    }
  });
