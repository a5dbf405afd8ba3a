import { describe, expect, it } from 'vitest';
import { PUBLISH_STREAM_FILTERS } from '../../functions/adapters/stream-filters.js';
import { checkPattern, matchesPattern } from '../../local/event-pattern.js';

const [completion, changedPage] = PUBLISH_STREAM_FILTERS;
const record = (eventName: string, sk: string, newImage?: object, oldImage?: object) => ({
  eventName,
  dynamodb: { Keys: { PK: { S: 'CRAWL#X' }, SK: { S: sk } }, ...(newImage ? { NewImage: newImage } : {}), ...(oldImage ? { OldImage: oldImage } : {}) },
});

describe("the local stream source's filter matching (EventBridge's rules)", () => {
  it('matches a crawl item that gains completedAt, and not one that had it or lacks it', () => {
    expect(matchesPattern(completion, record('MODIFY', '#META', { completedAt: { S: 't' } }, { total: { N: '1' } }))).toBe(true);
    expect(matchesPattern(completion, record('MODIFY', '#META', { completedAt: { S: 't' } }, { completedAt: { S: 't' } }))).toBe(false);
    expect(matchesPattern(completion, record('MODIFY', '#META', { total: { N: '2' } }, { total: { N: '1' } }))).toBe(false);
    expect(matchesPattern(completion, record('MODIFY', 'PAGE#abc', { completedAt: { S: 't' } }, {}))).toBe(false);
  });

  it('takes a field missing from an absent image as not existing (an INSERT has no OldImage)', () => {
    expect(matchesPattern(completion, record('INSERT', '#META', { completedAt: { S: 't' } }))).toBe(true);
  });

  it('matches a page inserted as changed by the prefix of its key, and no other', () => {
    expect(matchesPattern(changedPage, record('INSERT', 'PAGE#abc', { change: { S: 'changed' } }))).toBe(true);
    expect(matchesPattern(changedPage, record('INSERT', 'PAGE#abc', { change: { S: 'same' } }))).toBe(false);
    expect(matchesPattern(changedPage, record('MODIFY', 'PAGE#abc', { change: { S: 'changed' } }))).toBe(false);
    expect(matchesPattern(changedPage, record('INSERT', 'SEEN#abc', { change: { S: 'changed' } }))).toBe(false);
  });

  it('matches a list field when one of its items matches', () => {
    expect(matchesPattern({ tags: ['b'] }, { tags: ['a', 'b'] })).toBe(true);
    expect(matchesPattern({ tags: ['c'] }, { tags: ['a', 'b'] })).toBe(false);
  });

  it('refuses a pattern with an operator it does not implement, naming the field', () => {
    expect(() => checkPattern({ a: { b: [{ 'anything-but': 'x' } as never] } })).toThrow('(at a.b)');
    for (const filter of PUBLISH_STREAM_FILTERS) expect(() => checkPattern(filter)).not.toThrow();
  });
});
