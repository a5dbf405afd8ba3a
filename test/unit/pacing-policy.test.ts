import { describe, expect, it } from 'vitest';
import {
  delaySecondsUntil,
  hostKeyOf,
  MAX_DELAY_SECONDS,
  MAX_PENALTY_MS,
  NEW_HOST,
  PACE_MARGIN_MS,
  pacedInterval,
  penaltyAfter,
  planTurn,
  slideStart,
  throttleSignalOf,
  RETURN_WAIT_MS,
  WAIT_IN_PROCESS_MS,
  type PaceState,
  type TurnPlan,
} from '../../functions/core/polite/pacing-policy.js';

const T0 = 1_800_000_000_000;

/** Plans and commits, as a store does when the state is current. */
function commit(state: PaceState, now: number, intervalMs: number, reservation?: number): { state: PaceState; plan: TurnPlan } {
  const plan = planTurn(state, { now, intervalMs, reservation });
  return { state: plan.kind === 'later' ? state : plan.next, plan };
}

describe('planTurn', () => {
  it('starts the first request to a host at once, and the next one interval + margin later, waiting in the process when that is close', () => {
    let s = NEW_HOST;
    const first = commit(s, T0, 500);
    expect(first.plan).toMatchObject({ kind: 'start', at: T0 });
    s = first.state;
    const second = commit(s, T0 + 10, 500);
    expect(second.plan).toMatchObject({ kind: 'start', at: T0 + 500 + PACE_MARGIN_MS });
  });

  it('reserves a slot at the tail when the turn is further than a wait in the process, and queues new URLs behind it', () => {
    let s = commit(NEW_HOST, T0, 2_000).state;
    const i = 2_000 + PACE_MARGIN_MS;
    const a = commit(s, T0 + 1, 2_000);
    expect(a.plan).toMatchObject({ kind: 'reserve', at: T0 + i });
    s = a.state;
    const b = commit(s, T0 + 2, 2_000);
    expect(b.plan).toMatchObject({ kind: 'reserve', at: T0 + 2 * i });
    s = b.state;
    // A returning URL starts at its slot, even though later slots are reserved; the new one after it.
    const back = commit(s, T0 + i - 300, 2_000, T0 + i);
    expect(back.plan).toMatchObject({ kind: 'start', at: T0 + i });
    s = back.state;
    expect(commit(s, T0 + i, 2_000).plan).toMatchObject({ kind: 'reserve', at: T0 + 3 * i });
  });

  it('sends a returning URL whose start went by for the first start after those committed, not behind the tail', () => {
    const s = commit(NEW_HOST, T0, 1_000).state;
    const i = 1_000 + PACE_MARGIN_MS;
    // Came back late, while the URLs after it started: the starts are booked more than a wait ahead, the tail further.
    const busy: PaceState = { ...s, lastStart: T0 + 2_000, nextStart: T0 + 2_000 + i, startInterval: i, tail: T0 + 60_000, tailInterval: i };
    const late = commit(busy, T0 + 100, 1_000, T0 + 50);
    expect(late.plan).toEqual({ kind: 'later', at: T0 + 2_000 + i, holds: true });
    expect(late.state).toBe(busy);
    // Back for that start (as SQS brings it, a second or two early): it waits for it in the process.
    const back = commit(busy, T0 + 2_000 + i - 1_800, 1_000, T0 + 2_000 + i);
    expect(back.plan).toMatchObject({ kind: 'start', at: T0 + 2_000 + i });
    // A new URL meanwhile still queues behind the tail.
    expect(commit(busy, T0 + 100, 1_000).plan).toMatchObject({ kind: 'reserve', at: T0 + 60_000 });
  });

  it('reserves no further ahead than the longest SQS delay: a new URL beyond is told to come back, holding no slot, and queues again then', () => {
    const i = 2_000 + PACE_MARGIN_MS;
    const horizon = T0 + MAX_DELAY_SECONDS * 1000;
    let s = commit(NEW_HOST, T0, 2_000).state;
    const slots: number[] = [];
    for (;;) {
      const next = commit(s, T0, 2_000);
      if (next.plan.kind !== 'reserve') break;
      slots.push(next.plan.at);
      s = next.state;
    }
    expect(slots.at(-1)).toBeLessThanOrEqual(horizon);
    expect(slots.at(-1)! + i).toBeGreaterThan(horizon);
    const noRoom = commit(s, T0, 2_000);
    expect(noRoom.plan).toEqual({ kind: 'later', at: T0 + MAX_DELAY_SECONDS * 1000, holds: false });
    expect(noRoom.state).toBe(s);
    // SQS brings it back after its longest delay holding nothing (no reservation): it queues behind the URLs that
    // queued meanwhile.
    const returnsAt = T0 + MAX_DELAY_SECONDS * 1000 + 1_250;
    const then: PaceState = { ...s, lastStart: returnsAt - 500, nextStart: returnsAt - 500 + i, tail: returnsAt + 600_000 };
    expect(commit(then, returnsAt, 2_000).plan).toMatchObject({ kind: 'reserve', at: returnsAt + 600_000 });
    // So URLs that never come back for their slots (a cancelled crawl's) hold the host no longer than that delay.
    expect(s.tail - T0).toBeLessThanOrEqual(MAX_DELAY_SECONDS * 1000 + i);
  });

  it('keeps the larger interval between two crawls that ask different ones', () => {
    const slow = commit(NEW_HOST, T0, 5_000).state;
    // A crawl asking 100 ms waits out the 5 s one's interval; and a 5 s one after a 100 ms one waits 5 s.
    expect(commit(slow, T0 + 1, 100).plan).toMatchObject({ kind: 'reserve', at: T0 + 5_000 + PACE_MARGIN_MS });
    const fast = commit(NEW_HOST, T0, 100).state;
    expect(commit(fast, T0 + 1, 5_000).plan).toMatchObject({ kind: 'reserve', at: T0 + 5_000 + PACE_MARGIN_MS });
  });

  it('moves a start that could not happen in time to now, unless a turn was planned after it', () => {
    const first = commit(NEW_HOST, T0, 1_000);
    const turn = { at: T0, version: first.state.version };
    const slid = slideStart(first.state, turn, T0 + 30)!;
    expect(slid).toMatchObject({ lastStart: T0 + 30, nextStart: T0 + 30 + 1_000 + PACE_MARGIN_MS });
    expect(commit(slid, T0 + 40, 1_000).plan).toMatchObject({ kind: 'start', at: T0 + 30 + 1_000 + PACE_MARGIN_MS });
    // Someone reserved (or started) after it: that turn relies on the missed one's time, which stays.
    const after = commit(first.state, T0 + 5, 5_000).state;
    expect(slideStart(after, turn, T0 + 30)).toBeNull();
  });

  it("raises the interval to the host's penalty", () => {
    const s = { ...commit(NEW_HOST, T0, 0).state, penaltyMs: 4_000 };
    expect(pacedInterval(0, 0)).toBe(0);
    expect(commit(s, T0 + 1, 0).plan).toMatchObject({ kind: 'reserve', at: T0 + 4_000 + PACE_MARGIN_MS });
  });

  // A host under load: URLs arrive at random, those that cannot start soon come back through an SQS delay (whole
  // seconds, a second short) up to 1.25 s after it (the batching window and polling). Whatever the interleaving, no
  // two starts are closer than the interval, every URL starts, the host is kept busy, and a URL that came back too late
  // for its slot is not sent behind the URLs that queued after it: the starts keep close to the order of arrival.
  it.each([
    [1_000, 60, 1],
    [500, 120, 2],
    [3_000, 30, 3],
    [200, 200, 4],
    [1_000, 300, 5],
    [200, 1_000, 6],
  ])('never starts two requests closer than %i ms (+ margin), however URLs come back (%i URLs, seed %i)', (intervalMs, urls, seed) => {
    const random = mulberry32(seed);
    const interval = pacedInterval(intervalMs, 0);
    let state = NEW_HOST;
    const events: { at: number; url: number; reservation?: number }[] = [];
    for (let url = 0; url < urls; url++) events.push({ at: T0 + Math.floor(random() * 5_000), url });
    const arrivalOrder = [...events].sort((a, b) => a.at - b.at).map((e) => e.url);
    const starts: { at: number; url: number }[] = [];
    let claims = 0;
    while (events.length > 0) {
      events.sort((a, b) => a.at - b.at);
      const event = events.shift()!;
      const plan = planTurn(state, { now: event.at, intervalMs, reservation: event.reservation });
      claims++;
      if (plan.kind !== 'later') state = plan.next;
      if (plan.kind === 'start') {
        expect(plan.at - event.at).toBeLessThanOrEqual(event.reservation === undefined ? WAIT_IN_PROCESS_MS : RETURN_WAIT_MS);
        starts.push({ at: plan.at, url: event.url });
      } else {
        if (plan.kind === 'reserve') expect(plan.at - event.at).toBeLessThanOrEqual(MAX_DELAY_SECONDS * 1000);
        const delayMs = delaySecondsUntil(plan.at, event.at) * 1000;
        events.push({ url: event.url, reservation: plan.at, at: event.at + delayMs + Math.floor(random() * 1_250) });
      }
    }
    expect(new Set(starts.map((s) => s.url)).size).toBe(urls);
    const inOrder = [...starts].sort((a, b) => a.at - b.at);
    const times = inOrder.map((s) => s.at);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(interval);
    // Busy: the starts span little more than the intervals they need (99% of the rate measured here).
    expect(times.at(-1)! - times[0]!).toBeLessThan(interval * (urls - 1) * 1.03 + 2_000);
    // And about two claims per URL: its reservation, and its start when it comes back.
    expect(claims / urls).toBeLessThan(2.2);
    // No URL started after more than a few of the URLs that arrived after it (behind the tail, it would be hundreds).
    const overtaken = inOrder.map((s, place) => place - arrivalOrder.indexOf(s.url));
    expect(Math.max(...overtaken)).toBeLessThanOrEqual(RETURN_WAIT_MS / interval + 10);
  });
});

describe('AutoThrottle and helpers', () => {
  it('doubles the penalty on a slow answer from 1 s up to the cap, and eases it on good ones back to none', () => {
    let p = 0;
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) seen.push((p = penaltyAfter('slow', p)));
    expect(seen).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, MAX_PENALTY_MS, MAX_PENALTY_MS]);
    const back: number[] = [];
    while (p > 0) back.push((p = penaltyAfter('ok', p)));
    expect(back.slice(0, 3)).toEqual([45_000, 33_750, 25_312]);
    expect(back).toHaveLength(20);
    expect(back.at(-1)).toBe(0);
    const fromOne: number[] = [];
    for (p = 1_000; p > 0; ) fromOne.push((p = penaltyAfter('ok', p)));
    expect(fromOne).toEqual([750, 562, 421, 315, 0]);
    expect(penaltyAfter('slow', 750)).toBe(1_500);
  });

  it('takes 429, 503 and timeouts as slow, any other answer as ok, and no answer as nothing', () => {
    expect([429, 503].map((s) => throttleSignalOf(s))).toEqual(['slow', 'slow']);
    expect(throttleSignalOf(null, 'TIMEOUT')).toBe('slow');
    expect([200, 404, 500].map((s) => throttleSignalOf(s))).toEqual(['ok', 'ok', 'ok']);
    expect(throttleSignalOf(null, 'DNS')).toBeNull();
  });

  it('keys a host by hostname and port, default ports spelled out', () => {
    expect(hostKeyOf('https://Example.com/a')).toBe('example.com:443');
    expect(hostKeyOf('http://example.com/a')).toBe('example.com:80');
    expect(hostKeyOf('http://127.0.0.1:8080/')).toBe('127.0.0.1:8080');
    expect(hostKeyOf('http://[::1]:81/')).toBe('[::1]:81');
  });

  it('delays a URL in whole seconds, a second short of its turn, at least 1 and at most 900', () => {
    expect(delaySecondsUntil(T0 + 1_999, T0)).toBe(2);
    expect(delaySecondsUntil(T0 + 3_999, T0)).toBe(4);
    expect(delaySecondsUntil(T0 - 5, T0)).toBe(1);
    expect(delaySecondsUntil(T0 + 3_600_000, T0)).toBe(900);
  });
});

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
