import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { parseCrawlerConfig } from '../../lib/config.js';
import { CrawlerStack } from '../../lib/crawler-stack.js';

/** A fresh app; bundling is skipped (the assertions are about the template, not the code inside assets). */
export function testApp(): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] } });
}

/** The `crawler` context of the shipped cdk.json: what a user deploys. */
export function shippedConfig(): unknown {
  const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: { crawler: unknown } };
  return cdkJson.context.crawler;
}

export function synthStack(rawConfig: unknown = shippedConfig()): { stack: CrawlerStack; template: Template } {
  const stack = new CrawlerStack(testApp(), 'Test', { config: parseCrawlerConfig(rawConfig) });
  return { stack, template: Template.fromStack(stack) };
}

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

/** The logical id of the one function whose handler file is `name` (Submit, Read, Consume). */
export function functionId(template: Template, name: string): string {
  const fns = template.findResources('AWS::Lambda::Function') as Resources;
  const ids = Object.keys(fns).filter((id) => id.includes(name) && !id.includes('LogRetention'));
  if (ids.length !== 1) throw new Error(`expected one ${name} function, found ${ids.join(', ')}`);
  return ids[0]!;
}

/** Every action the function's role policies allow, with their resources. */
export function actionsOf(template: Template, fnId: string): { actions: string[]; resources: unknown }[] {
  const fn = (template.findResources('AWS::Lambda::Function') as Resources)[fnId]!;
  const roleId = ((fn.Properties!['Role'] as { 'Fn::GetAtt': string[] })['Fn::GetAtt'])[0];
  const policies = Object.values(template.findResources('AWS::IAM::Policy') as Resources).filter((p) =>
    (p.Properties!['Roles'] as { Ref: string }[]).some((r) => r.Ref === roleId),
  );
  return policies.flatMap((p) =>
    ((p.Properties!['PolicyDocument'] as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement).map((s) => ({
      actions: ([] as string[]).concat(s.Action),
      resources: s.Resource,
    })),
  );
}
