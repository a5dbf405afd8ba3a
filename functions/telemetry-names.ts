/**
 * The names the functions' logs and metrics carry, named once: the handlers emit under them and the CDK dashboard and
 * alarms (lib/monitoring.ts) query them. Plain data, so the CDK app can import it without Powertools.
 */
export const METRICS_NAMESPACE = 'ServerlessCrawler';
export const SERVICE_NAME = 'serverless-crawler';
