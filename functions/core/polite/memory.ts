import { afterResponse, CANCEL_SETTLE_MS, NEW_HOST, planTurn, releaseReservations, slideStart, type PaceState, type ThrottleSignal, type TurnRequest } from './pacing-policy.js';
import type { HostPacer, RobotsStore, StoredRobots, Turn } from './ports.js';
import type { RobotsRecord } from './robots-gate.js';

// The politeness ports in one process's memory: `crawler fetch` paces its hosts and keeps its robots.txt here, with
// the same policy the consumers commit to DynamoDB.

export class MemoryHostPacer implements HostPacer {
  private readonly hosts = new Map<string, PaceState>();
  /** When each host's reservations were last released (releaseReservations). */
  private readonly released = new Map<string, number>();

  async claim(host: string, request: TurnRequest): Promise<Turn> {
    const plan = planTurn(this.hosts.get(host) ?? NEW_HOST, request);
    if (plan.kind === 'later') return { kind: 'later', at: plan.at, held: plan.holds };
    this.hosts.set(host, plan.next);
    return plan.kind === 'start' ? { kind: 'start', at: plan.at, version: plan.next.version } : { kind: 'later', at: plan.at, held: true };
  }

  async slide(host: string, missed: { at: number; version: number }, request: TurnRequest): Promise<Turn> {
    const next = slideStart(this.hosts.get(host) ?? NEW_HOST, missed, request.now);
    if (next === null) return this.claim(host, { ...request, reservation: undefined });
    this.hosts.set(host, next);
    return { kind: 'start', at: request.now, version: next.version };
  }

  async report(host: string, signal: ThrottleSignal, maxPenaltyMs: number): Promise<void> {
    this.hosts.set(host, afterResponse(this.hosts.get(host) ?? NEW_HOST, signal, Date.now(), maxPenaltyMs));
  }

  knownPenaltyMs(host: string): number {
    return this.hosts.get(host)?.penaltyMs ?? 0;
  }

  async releaseReservations(host: string, cancelledAt: number): Promise<void> {
    const state = this.hosts.get(host);
    if (state === undefined || (this.released.get(host) ?? 0) >= cancelledAt + CANCEL_SETTLE_MS) return;
    const next = releaseReservations(state);
    if (next !== null) this.hosts.set(host, next);
    this.released.set(host, Date.now());
  }
}

export class MemoryRobotsStore implements RobotsStore {
  private readonly records = new Map<string, RobotsRecord>();
  private readonly leases = new Map<string, { owner: string; until: number }>();

  async get(origin: string, now: number): Promise<StoredRobots> {
    const record = this.records.get(origin);
    const lease = this.leases.get(origin);
    return { record: record && record.validUntil > now ? record : null, leasedUntil: lease && lease.until > now ? lease.until : 0, unsharedUntil: 0 };
  }

  async lease(origin: string, owner: string, until: number, now: number): Promise<{ taken: true } | ({ taken: false } & StoredRobots)> {
    const stored = await this.get(origin, now);
    if (stored.record || stored.leasedUntil > now) return { taken: false, ...stored };
    this.leases.set(origin, { owner, until });
    return { taken: true };
  }

  async put(record: RobotsRecord): Promise<'shared'> {
    this.records.set(record.origin, record);
    this.leases.delete(record.origin);
    return 'shared';
  }

  async release(origin: string, owner: string): Promise<void> {
    if (this.leases.get(origin)?.owner === owner) this.leases.delete(origin);
  }
}
