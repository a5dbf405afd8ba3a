import { describe, expect, it } from 'vitest';
import { nextFireTime, parseScheduleExpression } from '../../local/schedule-expression.js';

const at = (iso: string) => new Date(iso);
const next = (expr: string, after: string) => nextFireTime(parseScheduleExpression(expr), at(after))?.toISOString();

describe('EventBridge schedule expressions (local scheduler)', () => {
  it('rate() fires every period from the start', () => {
    const parsed = parseScheduleExpression('rate(5 minutes)');
    expect(parsed).toEqual({ kind: 'rate', everyMs: 300_000 });
    const start = at('2026-01-01T00:00:00Z');
    expect(nextFireTime(parsed, at('2026-01-01T00:07:00Z'), start)?.toISOString()).toBe('2026-01-01T00:10:00.000Z');
    expect(parseScheduleExpression('rate(1 day)')).toEqual({ kind: 'rate', everyMs: 86_400_000 });
  });

  it('cron() fires at the next matching minute, in UTC', () => {
    expect(next('cron(0 3 * * ? *)', '2026-11-25T07:00:00Z')).toBe('2026-11-26T03:00:00.000Z');
    expect(next('cron(0/15 * * * ? *)', '2026-11-25T07:01:00Z')).toBe('2026-11-25T07:15:00.000Z');
    expect(next('cron(30 9 ? * MON-FRI *)', '2026-11-27T10:00:00Z')).toBe('2026-11-30T09:30:00.000Z'); // Fri → Mon
    expect(next('cron(0 0 1 JAN ? 2027)', '2026-11-25T00:00:00Z')).toBe('2027-01-01T00:00:00.000Z');
    expect(next('cron(0 0 1 JAN ? 2025)', '2026-11-25T00:00:00Z')).toBeUndefined();
  });

  it('refuses what it cannot run, with the reason', () => {
    expect(() => parseScheduleExpression('every day')).toThrow(/rate\(\.\.\.\) or cron/);
    expect(() => parseScheduleExpression('cron(0 3 * * ?)')).toThrow(/6 fields/);
    expect(() => parseScheduleExpression('cron(0 25 * * ? *)')).toThrow(/out of range/);
    expect(() => parseScheduleExpression('cron(0 3 L * ? *)')).toThrow(/not supported/);
  });
});
