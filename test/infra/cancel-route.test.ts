import { describe, expect, it } from 'vitest';
import { actionsOf, functionId, synthStack } from '../support/stack.js';

// DELETE /crawls/{crawlId} (cancel): its API Gateway method and the grant of the function that serves it.
const { template } = synthStack();
type Resources = Record<string, { Properties: Record<string, any> }>;
const resources = (type: string) => template.findResources(type) as Resources;

/** The one DELETE method of the API. */
function deleteMethod() {
  const methods = Object.values(resources('AWS::ApiGateway::Method')).filter((m) => m.Properties['HttpMethod'] === 'DELETE');
  expect(methods).toHaveLength(1);
  return methods[0]!.Properties;
}

describe('DELETE /crawls/{crawlId}', () => {
  it('is a method of the {crawlId} resource under /crawls', () => {
    const resourceId = deleteMethod()['ResourceId']['Ref'] as string;
    const resource = resources('AWS::ApiGateway::Resource')[resourceId]!.Properties;
    expect(resource['PathPart']).toBe('{crawlId}');
    const parent = resources('AWS::ApiGateway::Resource')[resource['ParentId']['Ref'] as string]!.Properties;
    expect(parent['PathPart']).toBe('crawls');
  });

  it('requires IAM (SigV4) authorization', () => {
    expect(deleteMethod()['AuthorizationType']).toBe('AWS_IAM');
  });

  it('invokes the submit function, not the read-only read function', () => {
    const uri = JSON.stringify(deleteMethod()['Integration']['Uri']);
    expect(uri).toContain(functionId(template, 'Submit'));
    expect(uri).not.toContain(functionId(template, 'Read'));
  });

  it("needs no grant beyond what the submit function has for its other work (UpdateItem and GetItem), on the table only", () => {
    const statements = actionsOf(template, functionId(template, 'Submit')).filter((s) => s.actions.some((a) => a.startsWith('dynamodb:')));
    // Query and BatchGetItem: a schedule's run reads its schedule's listing (the previous run) before it starts.
    expect(statements.flatMap((s) => s.actions).sort()).toEqual(
      ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'].sort(),
    );
    for (const s of statements) expect(JSON.stringify(s.resources)).not.toContain('/index/');
  });
});
