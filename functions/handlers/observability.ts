import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/** One logger and one metrics object per function, at module scope (created once per container). */
export const logger = new Logger({ serviceName: 'serverless-crawler' });
export const metrics = new Metrics({ namespace: 'ServerlessCrawler', serviceName: 'serverless-crawler' });
