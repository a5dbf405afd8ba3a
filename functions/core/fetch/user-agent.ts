/**
 * What every request (pages, robots.txt, sitemaps) says it is, unless the deployment sets crawler.userAgent. Its
 * product token, `serverless-crawler`, is the name robots.txt groups are matched against; the version follows
 * package.json's (a unit test checks it).
 */
export const DEFAULT_USER_AGENT = 'serverless-crawler/0.1.0 (+https://github.com/serverless-crawler/serverless-crawler)';
