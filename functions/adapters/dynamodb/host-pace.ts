// Invariant (host pacing): requests to one host start in the order their turns were committed, each at least the
// larger of its own interval and the previous start's after the previous one, across every consumer and crawl. A
// turn (core/polite/pacing-policy.ts: planTurn) is committed only against the state it was planned from — the
// item's version, on a conflict the current item comes back with the failure (no extra read) and the turn is planned
// again — or, for a reservation at the tail of a busy host, by one atomic addition to the tail whose condition
// guarantees the slot planTurn would have given.
// An addition to the tail leaves the version alone, so the many URLs that queue on a busy host do not make the starts
// conflict: a start is planned from the starts' fields alone unless it moves the tail, and only a turn that moves the
// tail (a reservation, a start past it) is also conditioned on the tail it saw, so none overwrites a slot added since.
// Likewise a new URL's start on a host that was busy: it takes the host's next start as the item has it when the write
// lands (startAtNext), which no start committed since by another consumer can make conflict.
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  afterResponse,
  CANCEL_SETTLE_MS,
  holdsSlot,
  MAX_DELAY_SECONDS,
  NEW_HOST,
  pacedInterval,
  planTurn,
  RETURN_WAIT_MS,
  slideStart,
  WAIT_IN_PROCESS_MS,
  type PaceState,
  type ThrottleSignal,
  type TurnRequest,
} from '../../core/polite/pacing-policy.js';
import type { HostPacer, Turn } from '../../core/polite/ports.js';
import { hostPaceKey } from './keys.js';
import type { TableRef } from './requests.js';

/** A host's item lives a day past its last turn: its state means nothing after a quiet day. */
const HOST_TTL_SECONDS = 24 * 3600;
/**
 * Conflicting claims in a row before a claim gives up and the URL comes back a little later (a wait, which uses up no
 * attempt): only a pathological host gets there.
 */
export const MAX_CONFLICTS = 25;
/**
 * How long after the next start it saw a host busy this process still takes it for busy (startAtNext): longer, and the
 * host has likely gone quiet, its start planned on the memory (commitStart).
 */
const BUSY_MEMORY_MS = 5_000;
/** Hosts whose state this process remembers. */
const MEMO_HOSTS = 10_000;

const PACE_FIELDS = ['lastStart', 'nextStart', 'startInterval', 'tail', 'tailInterval', 'penaltyMs', 'version'] as const;

export class DynamoHostPacer implements HostPacer {
  /** The host's state as this process last saw it: the version a claim is planned on (a stale one costs a conflict). */
  private readonly seen = new Map<string, PaceState>();
  /**
   * A claim's round trip (moving average, starting high for a new container's first connection): a turn is planned
   * as of when the write will have come back, with room for a slower one, so its start is not late by it.
   */
  private roundTripMs = 30;
  /** Per host, whether its turn was still ahead when this process last claimed one: then it likely is again (startAtNext). */
  private readonly busy = new Map<string, boolean>();
  /** Per host, the latest cancel (settled, epoch ms) after which its reservations are known released. */
  private readonly released = new Map<string, number>();

  constructor(private readonly t: TableRef) {}

  /** Per host, the end of this process's line of claims (claim). */
  private readonly claims = new Map<string, Promise<unknown>>();

  /**
   * New URLs' claims on one host from this process are made one after another, each planned on this process's latest
   * view of the host (usually what the claim before it committed). Made at once, they would all be planned on the same
   * state and all but one would conflict, round after round: a batch of a site's discovered links is many URLs of one
   * host. A URL back for the slot it holds does not wait in that line: its start is due, and it keeps its priority.
   */
  claim(host: string, request: TurnRequest): Promise<Turn> {
    const started = Date.now();
    if (holdsSlot(request.reservation, request.now)) return this.claimInLine(host, request, started);
    const before = this.claims.get(host);
    const turn = before ? before.then(() => this.claimInLine(host, request, started)) : this.claimInLine(host, request, started);
    const settled = turn.catch(() => undefined);
    this.claims.set(host, settled);
    void settled.then(() => {
      if (this.claims.get(host) === settled) this.claims.delete(host);
    });
    return turn;
  }

  /** One claim, `started` when it was asked for: its turn is planned as of then plus the time it waited in line. */
  private async claimInLine(host: string, request: TurnRequest, started: number): Promise<Turn> {
    let state = this.seen.get(host);
    let appendFailed = false;
    for (let conflicts = 0; conflicts < MAX_CONFLICTS; conflicts++) {
      if (conflicts >= 3) await sleep(Math.random() * 10 * conflicts);
      const now = request.now + (Date.now() - started) + Math.ceil(this.roundTripMs * 1.5);
      const plan = planTurn(state ?? NEW_HOST, { ...request, now });
      if (plan.kind === 'later') return { kind: 'later', at: plan.at, held: plan.holds };
      const interval = pacedInterval(request.intervalMs, (state ?? NEW_HOST).penaltyMs);
      const sent = Date.now();
      // A new URL on a busy host appends to the tail; once that failed (the host's state was not as planned), the
      // claim commits on the version like any other.
      const append = plan.kind === 'reserve' && !appendFailed && state !== undefined && plan.at === state.tail;
      // A first try on this process's memory of the host commits on the starts' fields, not the version: another
      // process's start since then (the memory is usually stale by one) conflicts only if it took the slot planned.
      const onFields = plan.kind === 'start' && conflicts === 0 && state !== undefined && state.version > 0;
      // A new URL on a host whose turn was still ahead when this process last claimed one (or still is, as far as it
      // knows): the host is likely busy, and other processes' starts since then (the memory is usually stale by a few)
      // have moved its next start on, where a start planned on the memory would conflict.
      const atNext =
        onFields &&
        !holdsSlot(request.reservation, now) &&
        state!.tail <= state!.nextStart &&
        (state!.nextStart >= now || (this.busy.get(host) === true && state!.nextStart + BUSY_MEMORY_MS >= now));
      const result = append
        ? await this.appendToTail(host, state!, interval, now)
        : atNext
          ? await this.startAtNext(host, state!, interval, now)
          : onFields
            ? await this.commitStart(host, state!, plan.next, holdsSlot(request.reservation, now))
            : await this.commit(host, state, plan.next);
      if (append && !result.committed) appendFailed = true;
      this.roundTripMs = this.roundTripMs * 0.8 + (Date.now() - sent) * 0.2;
      this.remember(host, result.state);
      if (result.committed) {
        // startAtNext's start is the item's, as it was when the write landed.
        const at = atNext ? result.state.lastStart : plan.at;
        memo(this.busy, host, plan.kind !== 'start' || at > now);
        if (plan.kind === 'start') return { kind: 'start', at, version: result.state.version };
        return { kind: 'later', at: result.state.tail - result.state.tailInterval, held: true };
      }
      state = result.state;
    }
    // Nothing committed: the URL comes back in a moment, keeping its priority if it had a slot (held), else as new.
    return { kind: 'later', at: Date.now() + RETURN_WAIT_MS, held: request.reservation !== undefined };
  }

  /** slideStart committed on the version of the missed turn's commit; if a turn was planned since, a new claim. */
  async slide(host: string, missed: { at: number; version: number }, request: TurnRequest): Promise<Turn> {
    const seen = this.seen.get(host);
    const at = request.now + Math.ceil(this.roundTripMs * 1.5);
    const next = seen ? slideStart(seen, missed, at) : null;
    if (next !== null) {
      const result = await this.commit(host, seen, next);
      this.remember(host, result.state);
      if (result.committed) return { kind: 'start', at, version: result.state.version };
    }
    return this.claim(host, { ...request, reservation: undefined });
  }

  /**
   * afterResponse, from the penalty this process saw (reports of one burst of 429s raise it once, not once each):
   * with the next start pushed back when the state allows it (checked in the condition), else the penalty alone.
   */
  async report(host: string, signal: ThrottleSignal, maxPenaltyMs: number): Promise<void> {
    const seen = this.seen.get(host) ?? NEW_HOST;
    const now = Date.now();
    const next = afterResponse(seen, signal, now, maxPenaltyMs);
    if (next.penaltyMs === seen.penaltyMs && next.version === seen.version) return;
    const penaltyHeld = seen.penaltyMs === 0 ? '(attribute_not_exists(penaltyMs) OR penaltyMs = :seen)' : 'penaltyMs = :seen';
    const values = { ':penalty': next.penaltyMs, ':seen': seen.penaltyMs, ':expires': expiresAt() };
    let result: { committed: boolean; state: PaceState } | null = null;
    if (next.version !== seen.version) {
      result = await this.write(host, {
        UpdateExpression:
          'SET penaltyMs = :penalty, lastStart = :now, nextStart = :nextStart, startInterval = :interval, ' +
          'version = if_not_exists(version, :zero) + :one, expiresAt = :expires',
        ConditionExpression: `${penaltyHeld} AND (attribute_not_exists(lastStart) OR lastStart <= :now) AND (attribute_not_exists(nextStart) OR nextStart <= :nextStart)`,
        ExpressionAttributeValues: { ...values, ':now': now, ':nextStart': next.nextStart, ':interval': next.startInterval, ':zero': 0, ':one': 1 },
      });
    }
    if (!result?.committed && (result === null || result.state.penaltyMs === seen.penaltyMs)) {
      result = await this.write(host, { UpdateExpression: 'SET penaltyMs = :penalty, expiresAt = :expires', ConditionExpression: penaltyHeld, ExpressionAttributeValues: values });
    }
    this.remember(host, result.state);
  }

  knownPenaltyMs(host: string): number {
    return this.seen.get(host)?.penaltyMs ?? 0;
  }

  /**
   * releaseReservations in one conditional write: the tail back to the starts, if anything is queued, unless the host's
   * reservations were released after this cancel settled (releasedAt): so the cancelled crawl's later URLs do not
   * release what other crawls queued since. The version stays, as for an addition to the tail: a start planned
   * meanwhile still holds, and a turn that moves the tail is conditioned on the tail it saw.
   */
  async releaseReservations(host: string, cancelledAt: number): Promise<void> {
    const settled = cancelledAt + CANCEL_SETTLE_MS;
    if ((this.released.get(host) ?? 0) >= settled) return;
    const now = Date.now();
    // Written even when nothing is queued (a tail at or before the starts means the same as one at them), so the time
    // of the release is kept for the crawl's later URLs.
    const result = await this.write(host, {
      UpdateExpression: 'SET tail = nextStart, tailInterval = startInterval, releasedAt = :now, expiresAt = :expires',
      ConditionExpression: 'attribute_exists(nextStart) AND (attribute_not_exists(releasedAt) OR releasedAt < :settled)',
      ExpressionAttributeValues: { ':now': now, ':settled': settled, ':expires': expiresAt() },
    });
    this.remember(host, result.state);
    // Released after the cancel settled, by this write or another process's: done.
    const done = result.committed ? now >= settled : result.state.version > 0;
    if (done) {
      memo(this.released, host, settled);
    }
  }

  /**
   * planTurn's state, if the item is still the one it was planned from: its version (none yet: no version), and when
   * the turn moves the tail, the tail it saw too (an addition to the tail leaves the version alone). A turn that
   * leaves the tail where it was does not write it, so it cannot undo a reservation added since.
   */
  private commit(host: string, from: PaceState | undefined, next: PaceState) {
    const existing = from !== undefined && from.version > 0;
    const movesTail = next.tail !== (from?.tail ?? 0) || next.tailInterval !== (from?.tailInterval ?? 0);
    const conditions = [existing ? 'version = :from' : 'attribute_not_exists(version)'];
    if (existing && movesTail) conditions.push(from.tail > 0 ? 'tail = :fromTail' : '(attribute_not_exists(tail) OR tail = :fromTail)');
    return this.write(host, {
      UpdateExpression:
        'SET lastStart = :lastStart, nextStart = :nextStart, startInterval = :startInterval, ' +
        (movesTail || !existing ? 'tail = :tail, tailInterval = :tailInterval, ' : '') +
        'version = :version, expiresAt = :expires',
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeValues: {
        ':lastStart': next.lastStart,
        ':nextStart': next.nextStart,
        ':startInterval': next.startInterval,
        ...(movesTail || !existing ? { ':tail': next.tail, ':tailInterval': next.tailInterval } : {}),
        ':version': next.version,
        ':expires': expiresAt(),
        ...(existing ? { ':from': from.version } : {}),
        ...(existing && movesTail ? { ':fromTail': from.tail } : {}),
      },
    });
  }

  /**
   * A start planned from a state that may be stale, committed if the host's item still allows it, whatever its
   * version: no start after the slot's start less its interval (so none within an interval before it, whatever was
   * committed meanwhile), the next start allowed by then, no larger penalty than planned, and for a new URL no
   * reservation still ahead of it (the tail reached by then, with no longer interval than ours). The tail is only ever
   * moved up. Stricter than planTurn where intervals differ: a failure hands back the item, and the retry commits on
   * its version (commit).
   */
  private commitStart(host: string, seen: PaceState, next: PaceState, returning: boolean) {
    const interval = next.startInterval;
    const movesTail = next.tail > seen.tail;
    const conditions = [
      'nextStart <= :start',
      'lastStart <= :earliestPrevious',
      '(attribute_not_exists(penaltyMs) OR penaltyMs <= :penalty)',
      ...(returning ? [] : ['(attribute_not_exists(tail) OR (tail <= :start AND tailInterval >= :interval))']),
      ...(movesTail ? ['(attribute_not_exists(tail) OR tail <= :tail)'] : []),
    ];
    return this.write(host, {
      UpdateExpression:
        'SET lastStart = :start, nextStart = :nextStart, startInterval = :interval, ' +
        (movesTail ? 'tail = :tail, tailInterval = :tailInterval, ' : '') +
        'version = version + :one, expiresAt = :expires',
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeValues: {
        ':start': next.lastStart,
        ':earliestPrevious': next.lastStart - interval,
        ':nextStart': next.nextStart,
        ':interval': interval,
        ':penalty': seen.penaltyMs,
        ...(movesTail ? { ':tail': next.tail, ':tailInterval': next.tailInterval } : {}),
        ':one': 1,
        ':expires': expiresAt(),
      },
    });
  }

  /**
   * A new URL's start on a busy host in one write, whatever this process last saw of it: the host's next start as the
   * item has it, if that is not past (planned as of when the write is back) and within WAIT_IN_PROCESS_MS. The
   * condition makes it the slot planTurn would give on the item as it is: after the last start by the larger of its
   * interval and ours (startInterval ≥ ours, and nextStart is always lastStart + startInterval), no reservation ahead of
   * it (the tail reached by then, with no longer interval than ours), no larger penalty than the one our interval was
   * planned with (a smaller one leaves our interval longer than planTurn's, never shorter). The start moves the tail to
   * its end, as planTurn's does (the tail being at or before the slot). Every value is the item's before the write:
   * DynamoDB evaluates an update expression on the item as it was.
   */
  private startAtNext(host: string, seen: PaceState, interval: number, now: number) {
    return this.write(host, {
      UpdateExpression:
        'SET lastStart = nextStart, nextStart = nextStart + :interval, startInterval = :interval, ' +
        'tail = nextStart + :interval, tailInterval = :interval, version = version + :one, expiresAt = :expires',
      ConditionExpression:
        'nextStart BETWEEN :now AND :latest AND startInterval >= :interval ' +
        'AND (attribute_not_exists(tail) OR (tail <= nextStart AND tailInterval >= :interval)) ' +
        'AND (attribute_not_exists(penaltyMs) OR penaltyMs <= :penalty)',
      ExpressionAttributeValues: {
        ':interval': interval,
        ':now': now,
        ':latest': now + WAIT_IN_PROCESS_MS,
        ':penalty': seen.penaltyMs,
        ':one': 1,
        ':expires': expiresAt(),
      },
    });
  }

  /**
   * A reservation on a busy host in one addition: the slot is the tail as it is when the write lands, which the
   * condition keeps where planTurn would put it: more than WAIT_IN_PROCESS_MS away and no further than SQS can delay;
   * after the last reservation by the larger of its interval and ours (tailInterval ≥ ours); after the last start by
   * the larger of its interval and ours (nextStart ≤ tail, and startInterval ≥ ours so lastStart + ours ≤ nextStart);
   * with no larger penalty than planned. The version stays: a start planned meanwhile still holds (it is planned from
   * the starts, and one that moves the tail is conditioned on it).
   */
  private appendToTail(host: string, seen: PaceState, interval: number, now: number) {
    return this.write(host, {
      UpdateExpression: 'SET tail = tail + :interval, tailInterval = :interval, expiresAt = :expires',
      ConditionExpression:
        'tail BETWEEN :floor AND :horizon AND tailInterval >= :interval AND nextStart <= tail AND startInterval >= :interval ' +
        'AND (attribute_not_exists(penaltyMs) OR penaltyMs <= :penalty)',
      ExpressionAttributeValues: {
        ':interval': interval,
        ':floor': now + WAIT_IN_PROCESS_MS + 1,
        ':horizon': now + MAX_DELAY_SECONDS * 1000,
        ':penalty': seen.penaltyMs,
        ':expires': expiresAt(),
      },
    });
  }

  /** One conditional update: the item after it, or the item that failed the condition (it comes back with the failure). */
  private async write(host: string, update: Pick<ConstructorParameters<typeof UpdateCommand>[0], 'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeValues'>): Promise<{ committed: boolean; state: PaceState }> {
    try {
      const out = await this.t.db.send(
        new UpdateCommand({ TableName: this.t.name, Key: hostPaceKey(host), ...update, ReturnValues: 'ALL_NEW', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }),
      );
      return { committed: true, state: paceState(out.Attributes ?? {}) };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      return { committed: false, state: paceState(unmarshalledNumbers(err.Item ?? {})) };
    }
  }

  private remember(host: string, state: PaceState): void {
    memo(this.seen, host, state);
  }
}

/** Keeps `value` for `host` in a per-host memo of at most MEMO_HOSTS hosts, forgetting the oldest first. */
function memo<V>(hosts: Map<string, V>, host: string, value: V): void {
  if (hosts.size >= MEMO_HOSTS && !hosts.has(host)) hosts.delete(hosts.keys().next().value!);
  hosts.set(host, value);
}

const expiresAt = () => Math.floor(Date.now() / 1000) + HOST_TTL_SECONDS;

function paceState(item: Record<string, unknown>): PaceState {
  const state = { ...NEW_HOST };
  for (const field of PACE_FIELDS) {
    const value = item[field];
    if (typeof value === 'number' && Number.isFinite(value)) state[field] = value;
  }
  return state;
}

/** The number attributes of an item as DynamoDB sends it ({"N": "12"}): a condition failure's item is not unmarshalled. */
function unmarshalledNumbers(item: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(item)) {
    const n = (value as { N?: unknown } | null)?.N;
    if (typeof n === 'string') out[name] = Number(n);
  }
  return out;
}
