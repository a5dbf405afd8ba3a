/**
 * EventBridge schedule expressions, for running the configured schedules locally:
 *   rate(5 minutes) | rate(1 hour) | rate(2 days)
 *   cron(minutes hours day-of-month month day-of-week year), in UTC, day-of-week 1-7 = SUN-SAT, `?` for "any".
 * Supports `*`, `?`, lists, ranges, steps and names; the rarely used L, W and # are refused with a clear error.
 */

export type ParsedSchedule = { kind: 'rate'; everyMs: number } | { kind: 'cron'; fields: Set<number>[] };

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const UNIT_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
/** [min, max, names] per field: minutes, hours, day of month, month, day of week, year. */
const FIELDS: [number, number, string[] | null][] = [
  [0, 59, null],
  [0, 23, null],
  [1, 31, null],
  [1, 12, MONTHS],
  [1, 7, DAYS],
  [1970, 2199, null],
];

export function parseScheduleExpression(expression: string): ParsedSchedule {
  const rate = RATE.exec(expression.trim());
  if (rate) {
    const value = Number(rate[1]);
    const unit = rate[2]!.replace(/s$/, '') as keyof typeof UNIT_MS;
    if (value < 1) throw new Error(`${expression}: the rate must be at least 1`);
    return { kind: 'rate', everyMs: value * UNIT_MS[unit] };
  }
  const cron = /^cron\((.+)\)$/.exec(expression.trim());
  if (!cron) throw new Error(`${expression}: expected rate(...) or cron(...)`);
  const parts = cron[1]!.trim().split(/\s+/);
  if (parts.length !== 6) throw new Error(`${expression}: cron takes 6 fields (minutes hours day-of-month month day-of-week year)`);
  return { kind: 'cron', fields: parts.map((part, i) => parseField(part, FIELDS[i]!, expression)) };
}

function parseField(field: string, [min, max, names]: [number, number, string[] | null], expression: string): Set<number> {
  const out = new Set<number>();
  const value = (token: string): number => {
    const named = names?.indexOf(token.toUpperCase()) ?? -1;
    const n = named >= 0 ? named + min : Number(token);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${expression}: "${token}" is out of range ${min}-${max}`);
    return n;
  };
  for (const item of field.split(',')) {
    if (/[LW#]/.test(item.replace(/[A-Z]{3}/gi, (m) => (names?.includes(m.toUpperCase()) ? '' : m)))) {
      throw new Error(`${expression}: L, W and # are not supported by the local scheduler`);
    }
    const [range, stepText] = item.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`${expression}: bad step in "${item}"`);
    let lo: number;
    let hi: number;
    if (range === '*' || range === '?') [lo, hi] = [min, max];
    else if (range!.includes('-')) {
      const [a, b] = range!.split('-');
      [lo, hi] = [value(a!), value(b!)];
    } else {
      lo = value(range!);
      hi = stepText === undefined ? lo : max;
    }
    for (let n = lo; n <= hi; n += step) out.add(n);
  }
  return out;
}

/** The first time strictly after `after` at which the schedule fires (UTC), or null if it never fires again. */
export function nextFireTime(schedule: ParsedSchedule, after: Date, startedAt = after): Date | null {
  if (schedule.kind === 'rate') {
    const elapsed = after.getTime() - startedAt.getTime();
    return new Date(startedAt.getTime() + (Math.floor(elapsed / schedule.everyMs) + 1) * schedule.everyMs);
  }
  const [minutes, hours, daysOfMonth, months, daysOfWeek, years] = schedule.fields as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  const t = new Date(after.getTime());
  t.setUTCSeconds(0, 0);
  t.setUTCMinutes(t.getUTCMinutes() + 1);
  const limit = after.getTime() + 5 * 366 * 86_400_000;
  while (t.getTime() <= limit) {
    if (!years.has(t.getUTCFullYear()) || !months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0);
      continue;
    }
    if (!daysOfMonth.has(t.getUTCDate()) || !daysOfWeek.has(t.getUTCDay() + 1)) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0);
      continue;
    }
    if (!hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0);
      continue;
    }
    if (!minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1);
      continue;
    }
    return t;
  }
  return null;
}
