import { randomUUID } from 'node:crypto';
import type { ScheduleConfig } from '../lib/config.js';
import type { ScheduledCrawlEvent } from '../functions/handlers/submit.js';
import { nextFireTime, parseScheduleExpression } from './schedule-expression.js';

export type ScheduleHandler = (event: ScheduledCrawlEvent) => Promise<unknown>;

export interface RunningScheduler {
  stop(): void;
  /** Enabled schedules and their next run, for the ready banner. */
  readonly planned: { name: string; next: Date | null }[];
}

/**
 * Runs the enabled schedules of the configuration against the submit handler, with the same event the EventBridge
 * rule of lib/schedules.ts sends. Disabled schedules are skipped, as the deployed rules are.
 */
export function startScheduler(
  schedules: readonly ScheduleConfig[],
  handler: ScheduleHandler,
  log: (line: string) => void,
): RunningScheduler {
  const timers = new Set<NodeJS.Timeout>();
  const planned: RunningScheduler['planned'] = [];
  const startedAt = new Date();
  let stopped = false;

  for (const schedule of schedules.filter((s) => s.enabled)) {
    const parsed = parseScheduleExpression(schedule.expression);
    // As the EventBridge rule sends it: a new event id and the time of each firing.
    const event = (at: Date): ScheduledCrawlEvent => ({
      source: 'serverless-crawler.schedule',
      schedule: schedule.name,
      crawl: schedule.crawl,
      eventId: randomUUID(),
      time: at.toISOString(),
    });
    const plan = (after: Date) => {
      const next = nextFireTime(parsed, after, startedAt);
      if (!next || stopped) return null;
      // setTimeout cannot wait longer than ~24.8 days; re-plan from there if the next run is further away.
      const delay = Math.min(next.getTime() - Date.now(), 2 ** 31 - 1);
      const timer = setTimeout(async () => {
        timers.delete(timer);
        if (Date.now() >= next.getTime()) {
          try {
            const result = await handler(event(next));
            log(`schedule ${schedule.name} started ${JSON.stringify(result)}`);
          } catch (err) {
            log(`schedule ${schedule.name} failed: ${(err as Error).message}`);
          }
        }
        plan(new Date(Math.max(Date.now(), next.getTime())));
      }, Math.max(0, delay));
      timer.unref();
      timers.add(timer);
      return next;
    };
    planned.push({ name: schedule.name, next: plan(startedAt) });
  }

  return {
    planned,
    stop: () => {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
