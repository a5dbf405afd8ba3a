// Host pacing as a pure policy: when may the next request to a host start, given what the host's item says. No I/O:
// the stores (DynamoDB for the consumers, memory for `crawler fetch`) keep a PaceState per host and commit what
// planTurn decides, conditionally on the state it was planned from.
//
// The state is two timelines of one host:
// - starts (lastStart, nextStart): the latest start anyone committed to, and the earliest the next one may be. Every
//   start is committed against them, so starts happen in commit order, each at least the larger of its own interval
//   and the previous start's after it. This alone keeps the host's pace: nothing below can bring two starts closer.
// - reservations (tail, tailInterval): URLs whose turn is too far off to wait for in a Lambda take a slot at the
//   tail and come back then (an SQS delay); the tail grows by the interval with each one, so the returns are spread
//   out as the starts will be, and a new URL queues behind the URLs already waiting. No slot is further ahead than
//   SQS can delay a message (MAX_DELAY_SECONDS): a new URL that would queue further is told to come back later and
//   holds nothing. A cancelled crawl's URLs release the reservations they hold (releaseReservations).
// A returning URL starts at its slot (or as soon after it as the starts allow, if that is within RETURN_WAIT_MS). If
// the starts have gone past that by then (it came back late, and the URLs after it started meanwhile), it keeps its
// priority: it comes back for the first start after those committed, never queuing behind the tail again. A start is
// never before its slot, nor before nextStart: SQS's lateness can only push a start later, never two starts closer.

/**
 * A turn this close is waited for in the process; a later one is a reservation and an SQS delay. Waiting costs a
 * sixteenth of a consumer's time (16 pages in flight), a re-send three SQS requests: the two cost about the same near
 * a second and a half, and the default interval (1 s + the margin) then never needs a re-send between two pages.
 */
export const WAIT_IN_PROCESS_MS = 1_500;

/**
 * A URL coming back for its reserved turn waits for it in the process if it is this close. It is sent to come back at
 * its slot or just after (delaySecondsUntil); this covers one that SQS or a consumer brought back early anyway, and
 * the wait for the starts a late URL before it pushed back.
 */
export const RETURN_WAIT_MS = 2_500;

/**
 * A paced request's connection is opened this long before its turn (admission returns then, the fetch holds the
 * request's bytes until the turn): a new connection's lookup and TCP and TLS handshakes happen before the turn, not
 * after it, so the request leaves at its time however it is connected. A connection ready only later asks for its turn
 * to be moved (slideStart), which holds unless a turn was planned after it.
 */
export const PRECONNECT_MS = 300;

/**
 * Added to every non-zero interval: a request leaves up to LATE_START_MS after its turn (a timer firing late, the event
 * loop busy with other pages), and reaches the site's handler a little after it leaves (1 to 2 ms on a warm loopback
 * connection, the connection being ready before the turn, PRECONNECT_MS; up to ~30 ms measured when the whole suite
 * loads two cores), and the gap the site sees between two starts must still be the whole interval. Its cost is 4% of a
 * host's rate at the default 1 s, 7% at 500 ms.
 */
export const PACE_MARGIN_MS = 40;

/**
 * How late after its turn a request may still leave; later, it is not sent (LATE_START). The claim's own write is not
 * in it (a claim is planned 1.5 round trips ahead, and admission returns PRECONNECT_MS before the turn), nor a new
 * connection's handshake (opened before the turn): only the timer that sends the request.
 */
export const LATE_START_MS = 10;

/** AutoThrottle: a host that answers 429 or 503, or times out, gets at least this interval, doubling each time. */
export const MIN_PENALTY_MS = 1_000;
/** …up to this (the deployment's politeness.maxThrottleMs by default). */
export const MAX_PENALTY_MS = 60_000;

/** SQS's longest message delay, and so the furthest ahead a slot is reserved. */
export const MAX_DELAY_SECONDS = 900;
const MAX_DELAY_MS = MAX_DELAY_SECONDS * 1000;


export interface PaceState {
  /** Epoch ms of the latest start committed (it may be up to WAIT_IN_PROCESS_MS ahead of now). */
  lastStart: number;
  /** No start before this: lastStart + that start's interval. */
  nextStart: number;
  /** That start's interval (a URL asking a longer one waits longer after it). */
  startInterval: number;
  /** No new reservation before this: the last slot reserved + its interval. */
  tail: number;
  /** The interval of the last slot reserved (a URL asking a longer one leaves a longer gap after it). */
  tailInterval: number;
  /** The host's AutoThrottle penalty: a least interval while it is slowed down (0: none). */
  penaltyMs: number;
  /** Bumped by every committed turn; 0 when the host has no state yet. */
  version: number;
}

export const NEW_HOST: PaceState = { lastStart: 0, nextStart: 0, startInterval: 0, tail: 0, tailInterval: 0, penaltyMs: 0, version: 0 };

export interface TurnRequest {
  /** Epoch ms. */
  now: number;
  /** The crawl's interval for this host before the penalty: max(hostDelayMs, Crawl-delay). */
  intervalMs: number;
  /** The reservation this URL was given (it is coming back for its turn), epoch ms: a slot if holdsSlot. */
  reservation?: number | undefined;
}

export type TurnPlan =
  /** Commit `next`, wait until `at` (within WAIT_IN_PROCESS_MS) and start. */
  | { kind: 'start'; at: number; next: PaceState }
  /** Commit `next`, and come back at `at` with it as the reservation. */
  | { kind: 'reserve'; at: number; next: PaceState }
  /**
   * Nothing to commit: come back at `at`. `holds`: with `at` as the reservation (a returning URL keeps its priority, for
   * the first start after those committed); otherwise as a new URL (the queue had no room for it).
   */
  | { kind: 'later'; at: number; holds: boolean };

/** The interval a turn keeps: the crawl's, raised by the host's penalty, plus the margin; 0 when neither asks for one. */
export function pacedInterval(intervalMs: number, penaltyMs: number): number {
  const interval = Math.max(intervalMs, penaltyMs);
  return interval > 0 ? interval + PACE_MARGIN_MS : 0;
}

/** Whether a request needs a turn at all: a crawl with hostDelayMs 0 on a host that is not slowed down does not. */
export function needsTurn(intervalMs: number, penaltyMs: number): boolean {
  return pacedInterval(intervalMs, penaltyMs) > 0;
}

/**
 * Whether a URL coming back with `reservation` holds a slot: it does if it is back no earlier than SQS brings a URL
 * back for a slot (a second early, and the batching window: RETURN_WAIT_MS), a slot being never further ahead than
 * SQS can delay. One further ahead was told to come back when the queue had no room for it: it holds nothing.
 */
export function holdsSlot(reservation: number | undefined, now: number): reservation is number {
  return reservation !== undefined && reservation - now <= RETURN_WAIT_MS;
}

/** What one request to the host should do, and the state to commit for it. */
export function planTurn(state: PaceState, request: TurnRequest): TurnPlan {
  const { now, reservation } = request;
  const interval = pacedInterval(request.intervalMs, state.penaltyMs);
  const version = state.version + 1;
  const afterStarts = Math.max(state.nextStart, state.lastStart + interval);
  const start = (at: number): TurnPlan => {
    const end = at + interval;
    const tail = end > state.tail ? { tail: end, tailInterval: interval } : {};
    return { kind: 'start', at, next: { ...state, lastStart: at, nextStart: end, startInterval: interval, ...tail, version } };
  };
  if (holdsSlot(reservation, now)) {
    // A returning URL holds its place in the tail already; if the starts went past it meanwhile, it comes back for the
    // first start after them rather than queue behind every URL that queued after it.
    const startAt = Math.max(now, reservation, afterStarts);
    return startAt - now <= RETURN_WAIT_MS ? start(startAt) : { kind: 'later', at: afterStarts, holds: true };
  }
  // A new URL queues behind every reservation, as far as the longest SQS delay.
  const afterTail = Math.max(state.tail, state.tail - state.tailInterval + interval);
  const slot = Math.max(now, afterStarts, afterTail);
  if (slot - now <= WAIT_IN_PROCESS_MS) return start(slot);
  if (slot - now > MAX_DELAY_MS) return { kind: 'later', at: now + MAX_DELAY_MS, holds: false };
  return { kind: 'reserve', at: slot, next: { ...state, tail: slot + interval, tailInterval: interval, version } };
}

/**
 * A start committed for `turn` that could not happen in time (a busy process), moved to `now` — the same turn, later —
 * if the state is still the one that commit left (its version, its lastStart): then no turn was planned after it, and
 * none depends on its time. Null otherwise: the request takes a new turn.
 */
export function slideStart(state: PaceState, turn: { at: number; version: number }, now: number): PaceState | null {
  if (state.version !== turn.version || state.lastStart !== turn.at || now <= turn.at) return null;
  const end = now + state.startInterval;
  const tail = end > state.tail ? { tail: end, tailInterval: state.startInterval } : {};
  return { ...state, lastStart: now, nextStart: end, ...tail, version: state.version + 1 };
}

/**
 * A cancelled crawl's URLs come back for the slots they reserved only to end CANCELLED, and new URLs queue behind them:
 * without this, a crawl cancelled with a long queue on a host would hold that host's other crawls back for as long as
 * SQS delays (MAX_DELAY_SECONDS). So the first of them back clears the host's queue of reservations (the tail goes back
 * to the starts). Reservations other crawls made before then lose their place in the queue: their URLs still come back
 * at their slots and start there or at the first start after those committed meanwhile (waiting up to RETURN_WAIT_MS,
 * else coming back again for it), while the new URLs queued since then come after them. Null: nothing queued.
 */
export function releaseReservations(state: PaceState): PaceState | null {
  if (state.tail <= state.nextStart) return null;
  return { ...state, tail: state.nextStart, tailInterval: state.startInterval };
}

/**
 * A crawl's cancel reaches every consumer within this long (the crawl cache's age, a read, a claim): a URL of the crawl
 * that reserved a slot in that time is released by a later one of its URLs, so a host's reservations are released
 * again by URLs of the crawl until this long after its cancel, and then once more (releasedAt: pacing's HostPacer).
 */
export const CANCEL_SETTLE_MS = 5_000;

/** How a response bears on the host's pace: 'slow' for 429, 503 and timeouts, 'ok' for any other answer. */
export type ThrottleSignal = 'slow' | 'ok';

export function throttleSignalOf(status: number | null, errorCode?: string): ThrottleSignal | null {
  if (status === 429 || status === 503 || errorCode === 'TIMEOUT') return 'slow';
  return status === null ? null : 'ok';
}

/**
 * AutoThrottle: a slow answer doubles the penalty (from MIN_PENALTY_MS, up to MAX_PENALTY_MS); a good one takes a
 * quarter off, to none below a quarter of the minimum. So a host recovers over a few good answers (5 from 1 s, 20
 * from the cap), not at the first one, and one 429 among many good answers costs little.
 */
export function penaltyAfter(signal: ThrottleSignal, penaltyMs: number, maxPenaltyMs = MAX_PENALTY_MS): number {
  if (signal === 'slow') return Math.min(maxPenaltyMs, Math.max(MIN_PENALTY_MS, penaltyMs * 2));
  const eased = Math.floor((penaltyMs * 3) / 4);
  return eased < MIN_PENALTY_MS / 4 ? 0 : eased;
}

/**
 * The host's state after a response: its penalty as penaltyAfter says; and after a slow one, the next start no sooner
 * than the new penalty from now — the slow request may not have had a turn (a crawl with hostDelayMs 0), and the
 * next must not follow it at once — unless starts are already committed later than that.
 */
export function afterResponse(state: PaceState, signal: ThrottleSignal, now: number, maxPenaltyMs = MAX_PENALTY_MS): PaceState {
  const penaltyMs = penaltyAfter(signal, state.penaltyMs, maxPenaltyMs);
  const interval = pacedInterval(0, penaltyMs);
  if (signal === 'ok' || state.lastStart > now || state.nextStart > now + interval) return { ...state, penaltyMs };
  return { ...state, penaltyMs, lastStart: now, nextStart: now + interval, startInterval: interval, version: state.version + 1 };
}

/** The host a URL's requests are paced by: its hostname and port, the default port spelled out ("example.com:443"). */
export function hostKeyOf(url: string | URL): string {
  const u = typeof url === 'string' ? new URL(url) : url;
  const port = u.port !== '' ? u.port : u.protocol === 'https:' ? '443' : u.protocol === 'http:' ? '80' : '';
  return `${u.hostname}:${port}`;
}

/**
 * The SQS delay that brings a URL back for a turn at `until`: whole seconds, rounded up, so the URL arrives at its slot
 * or a little after (the consumer's batching window and polling come on top), at least 1, at most MAX_DELAY_SECONDS
 * (no slot is further; a URL told to come back later than that queues again when it does). After, not before: a URL
 * back late shifts its host's later starts by its lateness once (they start after it), where one back early holds a
 * consumer's page slot while it waits, and at a host's full pace the early ones fill every slot a consumer has.
 */
export function delaySecondsUntil(until: number, now: number): number {
  return Math.min(MAX_DELAY_SECONDS, Math.max(1, Math.ceil((until - now) / 1000)));
}
