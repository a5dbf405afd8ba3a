import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RequestTurn } from '../fetch/fetch-limits.js';
import type { RobotsFetchOutcome } from '../fetch/robots-fetch.js';
import type { RobotsStore } from './ports.js';
import { knownRobots, robotsRecordFor, type KnownRobots, type RobotsRecord } from './robots-gate.js';

/** The host's turn for the robots.txt request: send it in `turn` (or at once without one), or the URL waits (and comes back) for it. */
export type RobotsTurn = { kind: 'go'; turn?: RequestTurn } | { kind: 'wait'; until: number; reservation?: number };

export type RobotsLookup =
  /** `tookTurn`: robots.txt was fetched in this URL's turn (its reservation is spent). */
  | { kind: 'known'; known: KnownRobots; tookTurn: boolean }
  /** Not known yet: the URL comes back at `until` (another process is fetching it, or the host's turn is later). */
  | { kind: 'wait'; until: number; reservation?: number };

export interface RobotsSourceOptions {
  store: RobotsStore;
  /** Fetches <origin>/robots.txt: fetchRobotsTxt with the deployment's limits and network, in `turn` if given. */
  fetch: (origin: string, turn: RequestTurn | undefined) => Promise<RobotsFetchOutcome>;
  /** The product token robots.txt groups are matched against (productTokenOf(userAgent)). */
  userAgentToken: string;
  /** How long a fetch may hold the lease: the fetch's deadline and a turn's wait, with room to store the record. */
  leaseMs: number;
  /** How long this process reuses a record before asking the store again (the store's record stays valid up to 24 h). */
  memoMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<unknown>;
}

/** A URL waits this long in the process for another process's robots.txt fetch before it is sent to come back later. */
const LEASE_WAIT_MS = 2_000;
/**
 * …and, if it is not there by then, comes back this much later (SQS's shortest delay): not when the lease runs out
 * (the fetch's whole deadline), since the record usually arrives soon after, and every URL of the host waits for it:
 * at the start of a crawl each second here is a second of the host's pace lost.
 */
const LEASE_RECHECK_MS = 1_000;
const LEASE_POLL_MS = 200;
const MEMO_ENTRIES = 10_000;

/**
 * Each origin's robots.txt, fetched once for everyone who shares the store, for at most 24 hours (RFC 9309 §2.4):
 * 1. this process's memo (a minute), and one lookup in flight per origin, which the others join;
 * 2. the store's record;
 * 3. else the lease to fetch it (one fetcher across every process; the others wait for its record, briefly here,
 *    else by coming back later), the host's turn for the request, the fetch, and the record stored for everyone.
 */
export class RobotsSource {
  private readonly memo = new Map<string, { until: number; known: KnownRobots }>();
  private readonly inFlight = new Map<string, Promise<RobotsLookup>>();
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<unknown>;

  constructor(private readonly options: RobotsSourceOptions) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => sleep(ms));
  }

  /**
   * What is known of the origin's robots.txt. `takeTurn` asks for the host's turn when it has to be fetched;
   * `onResponse` hears how the fetch went (AutoThrottle).
   */
  async lookup(origin: string, takeTurn: () => Promise<RobotsTurn>, onResponse?: (outcome: RobotsFetchOutcome) => void): Promise<RobotsLookup> {
    const memo = this.memo.get(origin);
    if (memo && memo.until > this.now()) return { kind: 'known', known: memo.known, tookTurn: false };
    const flying = this.inFlight.get(origin);
    if (flying) {
      const result = await flying;
      return result.kind === 'known' ? { ...result, tookTurn: false } : { kind: 'wait', until: result.until };
    }
    const lookup = this.resolve(origin, takeTurn, onResponse);
    this.inFlight.set(origin, lookup);
    try {
      return await lookup;
    } finally {
      this.inFlight.delete(origin);
    }
  }

  private async resolve(origin: string, takeTurn: () => Promise<RobotsTurn>, onResponse?: (outcome: RobotsFetchOutcome) => void): Promise<RobotsLookup> {
    const { store } = this.options;
    const owner = randomUUID();
    const waitUntil = this.now() + LEASE_WAIT_MS;
    let stored = await store.get(origin, this.now());
    for (let round = 0; round < 50; round++) {
      if (stored.record) return { kind: 'known', known: this.remember(stored.record, false), tookTurn: false };
      if (stored.unsharedUntil > this.now()) return this.fetch(origin, takeTurn, onResponse, null);
      if (stored.leasedUntil <= this.now()) {
        const lease = await store.lease(origin, owner, this.now() + this.options.leaseMs, this.now());
        if (lease.taken) return this.fetch(origin, takeTurn, onResponse, owner);
        stored = lease;
        continue;
      }
      // Another process is fetching it: its record is usually there within a round trip or two.
      if (this.now() >= waitUntil) return { kind: 'wait', until: Math.min(stored.leasedUntil, this.now() + LEASE_RECHECK_MS) };
      await this.sleep(LEASE_POLL_MS);
      stored = await store.get(origin, this.now());
    }
    return { kind: 'wait', until: this.now() + LEASE_WAIT_MS };
  }

  /** Fetches in the host's turn and keeps the record: in the store for everyone when `owner` holds the lease. */
  private async fetch(origin: string, takeTurn: () => Promise<RobotsTurn>, onResponse: ((outcome: RobotsFetchOutcome) => void) | undefined, owner: string | null): Promise<RobotsLookup> {
    try {
      return await this.fetchInTurn(origin, takeTurn, onResponse, owner);
    } catch (err) {
      // A claim or the store failed: the lease goes now, so the next URL fetches it rather than wait the lease out.
      if (owner) await this.options.store.release(origin, owner).catch(() => undefined);
      throw err;
    }
  }

  private async fetchInTurn(origin: string, takeTurn: () => Promise<RobotsTurn>, onResponse: ((outcome: RobotsFetchOutcome) => void) | undefined, owner: string | null): Promise<RobotsLookup> {
    let outcome: RobotsFetchOutcome | null = null;
    // A request that could not leave in its turn (LATE_START: a busy process) takes another, three times at most.
    for (let turns = 0; turns < 3 && (outcome === null || (outcome.kind === 'failed' && outcome.code === 'LATE_START')); turns++) {
      const turn = await takeTurn();
      if (turn.kind === 'wait') {
        if (owner) await this.options.store.release(origin, owner).catch(() => undefined);
        return turn;
      }
      outcome = await this.options.fetch(origin, turn.turn);
    }
    if (outcome!.kind === 'failed' && outcome!.code === 'LATE_START') {
      if (owner) await this.options.store.release(origin, owner).catch(() => undefined);
      return { kind: 'wait', until: this.now() + 1_000 };
    }
    onResponse?.(outcome!);
    const record = robotsRecordFor(origin, outcome!, this.options.userAgentToken, this.now());
    const shared = owner ? (await this.options.store.put(record)) === 'shared' : false;
    return { kind: 'known', known: this.remember(record, !shared), tookTurn: true };
  }

  /** Keeps the record for this process: for the memo's time, or its whole validity when no one else can read it. */
  private remember(record: RobotsRecord, unshared: boolean): KnownRobots {
    const known = knownRobots(record);
    const now = this.now();
    const until = unshared ? record.validUntil : Math.min(record.validUntil, now + (this.options.memoMs ?? 60_000));
    if (this.memo.size >= MEMO_ENTRIES) {
      for (const [origin, entry] of this.memo) if (entry.until <= now || this.memo.size >= MEMO_ENTRIES) this.memo.delete(origin);
    }
    this.memo.set(record.origin, { until, known });
    return known;
  }
}
