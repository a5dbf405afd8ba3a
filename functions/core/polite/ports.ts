import type { ThrottleSignal, TurnRequest } from './pacing-policy.js';
import type { RobotsRecord } from './robots-gate.js';

// What politeness needs from the outside world: the hosts' pace and the robots.txt cache, shared by every consumer
// (DynamoDB: functions/adapters/dynamodb/host-pace.ts, robots-cache.ts) or by one process (memory.ts).

/** A host's turn for one request, as committed. */
export type Turn =
  /** Start at `at` (epoch ms, within WAIT_IN_PROCESS_MS): the turn is this request's, committed (as `version`). */
  | { kind: 'start'; at: number; version: number }
  /**
   * Come back at `at`; `held`: holding it as the URL's reservation (a slot committed for it, or the priority of the one
   * it had), else as a new URL (the host's queue had no room for it, or claims kept conflicting).
   */
  | { kind: 'later'; at: number; held: boolean };

/** The pace of requests to each host (hostname:port), for every process that shares it. */
export interface HostPacer {
  /** One claim for one request: planTurn on the host's current state, committed only if that state is still current. */
  claim(host: string, request: TurnRequest): Promise<Turn>;
  /**
   * A start this process was given but could not make in time: moved to `request.now` if no turn was planned after
   * it (slideStart), else a new claim for the request.
   */
  slide(host: string, missed: { at: number; version: number }, request: TurnRequest): Promise<Turn>;
  /** AutoThrottle: how a response went (429/503/timeout: 'slow'); the host's penalty grows (up to `maxPenaltyMs`) or shrinks. Best effort. */
  report(host: string, signal: ThrottleSignal, maxPenaltyMs: number): Promise<void>;
  /**
   * A URL of a crawl cancelled at `cancelledAt` (epoch ms) came back for its reserved slot: the host's queue of
   * reservations is released (releaseReservations) unless it was already released after the cancel settled
   * (CANCEL_SETTLE_MS), so the crawl's other URLs do not release what other crawls queued since. Best effort.
   */
  releaseReservations(host: string, cancelledAt: number): Promise<void>;
  /** The host's penalty as this process last saw it (no I/O): a crawl with no interval of its own still claims turns while it is set. */
  knownPenaltyMs(host: string): number;
}

/** What the shared cache holds for an origin's robots.txt. */
export interface StoredRobots {
  /** A usable record (not past its validUntil), or null. */
  record: RobotsRecord | null;
  /** Epoch ms until which someone holds the lease to fetch it (0: no one). */
  leasedUntil: number;
  /** A record was stored but was too large to share: each process fetches and keeps its own until this (epoch ms; 0: not so). */
  unsharedUntil: number;
}

/** The robots.txt of each origin, fetched once for every process that shares the cache. */
export interface RobotsStore {
  get(origin: string, now: number): Promise<StoredRobots>;
  /**
   * Takes the lease to fetch the origin's robots.txt until `until`: only when no usable record is stored and no one
   * else holds an unexpired lease. When it is not taken, what is stored instead.
   */
  lease(origin: string, owner: string, until: number, now: number): Promise<{ taken: true } | ({ taken: false } & StoredRobots)>;
  /**
   * Stores the record (and ends the lease): 'shared' when others can read it, 'unshared' when it was too large to
   * store (each process then fetches its own; the store says so until the record's validUntil).
   */
  put(record: RobotsRecord): Promise<'shared' | 'unshared'>;
  /** Ends the lease without a record (the fetch has to wait for the host's turn), if it is still `owner`'s. */
  release(origin: string, owner: string): Promise<void>;
}
