#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parseCrawlerConfig } from '../lib/config.js';
import { CrawlerStack } from '../lib/crawler-stack.js';

const app = new App();
const config = parseCrawlerConfig(app.node.tryGetContext('crawler'));
new CrawlerStack(app, app.node.tryGetContext('stackName') ?? 'ServerlessCrawler', {
  config,
  description: 'serverless-crawler: a web crawler on AWS Lambda',
  // Environment-agnostic: synth needs no account, credentials or network.
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
