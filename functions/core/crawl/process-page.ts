import { PUBLIC_INTERNET, type NetworkAccess } from '../fetch/address-guard.js';
import type { Analyze } from '../parse/analyze-body.js';
import { summarizeUrl, type SummarizedUrl } from '../summarize/summarize-url.js';
import type { FetchLimits } from '../fetch/fetch-limits.js';
import type { PageMessage } from '../model/page-message.js';
import type { RecordOutcome } from '../model/crawl.js';
import type { CrawlCache } from './crawl-cache.js';
import { scopeFor, type Scope } from './scope.js';
import { CANCELLED, cancelledSummary } from './cancel-crawl.js';
import { baseFor, compareWith } from './change.js';
import type { CrawlStore, PageSender } from '../model/ports.js';
import { DEFAULT_RETRY_POLICY, RetryLater, retryDelaySeconds, type RetryPolicy } from './retry-policy.js';
import { enqueueFailed, failedSummary, type Summary } from '../model/summary.js';
import { MAX_LINKS_PER_PAGE } from '../model/limits.js';
import { normalizeUrl } from '../model/url.js';
import { admit, admitWaiting, HOST_BUSY, MAX_TURNS, redirectAdmission, reportResponse, type Admission, type CrawlPoliteness, type PoliteDeps } from '../polite/admission.js';
import { delaySecondsUntil, hostKeyOf, PACE_MARGIN_MS, PRECONNECT_MS } from '../polite/pacing-policy.js';

export interface ProcessDeps {
  store: CrawlStore;
  /** The crawl's options and status, at most seconds old; read through the store when not given. */
  crawls?: CrawlCache;
  queue: PageSender;
  /**
   * Where a URL goes to wait for its host's turn (waitForTurn): the turn queue, so that it comes back for its slot ahead
   * of the page queue's backlog of new URLs. The page queue when not given.
   */
  turnQueue?: PageSender;
  limits: FetchLimits;
  retry?: RetryPolicy;
  network?: NetworkAccess;
  /** Where pages are parsed: this thread unless a ParsePool's `analyze` is given. */
  analyze?: Analyze;
  /** Writes one page's outcome: the store's recordPage, or a RecordBatcher's, to share transactions. */
  recordPage?: (crawlId: string, summary: Summary, depth: number) => Promise<RecordOutcome>;
  /**
   * The check that completes the crawl once its last URL is recorded, after every page: the store's, or a
   * CompletionChecks' (one read shared by the pages of a crawl finishing together).
   */
  completeIfDone?: CrawlStore['completeIfDone'];
  /** Told of each page's terminal summary as it is recorded (metrics). */
  observe?: (summary: Summary) => void;
  /** Told of each link a delivery takes on itself by following on (followOnHost), as it starts it (metrics). */
  observeFollowOn?: () => void;
  now?: () => Date;
  /**
   * Epoch ms until which this delivery may still be running (the invocation's deadline): children it registers are
   * leased to it until then, so a concurrent delivery of the same parent does not queue them too.
   */
  leaseUntil?: number;
  /**
   * Politeness (core/polite/): robots.txt and the host's turn before the fetch, AutoThrottle after it. The consumer
   * always gives it; without it pages are fetched as they come (tests of the accounting alone).
   */
  polite?: PoliteDeps;
  /**
   * Whether this delivery may go on, now, to fetch its page's links on the page's own host itself, each in its turn,
   * rather than queue them (followOnHost): the invocation's say, from its time left and its other work. Not given:
   * every link is queued.
   */
  mayFollowOn?: () => boolean;
}

/** What one delivery came to: the URL's outcome recorded (now or before), or the URL sent again to wait for its host's turn. */
export type PageOutcome = RecordOutcome | 'deferred';

/** The lease when the caller gives no deadline: a consumer's default timeout. */
const DEFAULT_LEASE_MS = 60_000;

/**
 * The use case behind one delivery of one SQS message; `attempt` is the delivery's number (1-based).
 *
 * Every URL ends in exactly one terminal state however often its message is delivered:
 * - a redelivered message whose outcome is stored does no fetch and counts nothing again;
 * - links are registered and queued, and the latest summary written, before the page is recorded, and the record
 *   (summary + counter) is one transaction, so a crash at any point is repaired by the redelivery;
 * - a transient failure (timeout, reset, 5xx, 429…) or an unexpected error throws RetryLater, until the last attempt:
 *   there the URL is recorded as failed with its reason, so the crawl completes. Only if even that write fails does
 *   the error escape, and SQS moves the message to the DLQ.
 * When the invocation lets it (ProcessDeps.mayFollowOn), a paced page's links on its own host are not queued: once the
 * page is recorded, this delivery fetches them itself, each in its turn (followOnHost); they are registered and leased
 * to it as queued links are, so a delivery that dies leaves them to the reconciler.
 */
export async function processPage(message: PageMessage, deps: ProcessDeps, attempt = 1): Promise<PageOutcome> {
  const onHost: PageMessage[] = [];
  const outcome = await processOne(message, deps, attempt, { onHost });
  // The page is recorded: nothing that goes wrong from here is its delivery's to retry.
  if (onHost.length > 0) await followOnHost(onHost, deps).catch(() => queueLinks(onHost.splice(0), deps));
  return outcome;
}

/** What a delivery hands its caller besides its outcome, when following on (followOnHost). */
interface FollowOn {
  /** Where the page's links on its own host go, once the page is recorded, for this delivery to fetch itself. */
  onHost?: PageMessage[];
  /** Told when the URL's request is let go (its turn is here), so the next link on the host may claim the turn after it. */
  admitted?: () => void;
  /**
   * A turn at most this far off (from the page's admission, in all) is waited for here rather than from the turn
   * queue: a delivery following on holds its Lambda for the host's next pages anyway. Not given: WAIT_IN_PROCESS_MS,
   * as admission decides.
   */
  maxWaitMs?: number;
}

/** One URL's delivery, as processPage describes; the links it keeps to follow on go to `follow.onHost`. */
async function processOne(message: PageMessage, deps: ProcessDeps, attempt: number, follow: FollowOn): Promise<PageOutcome> {
  const policy = deps.retry ?? DEFAULT_RETRY_POLICY;
  const isLast = attempt >= policy.maxAttempts;
  try {
    return await tryPage(message, deps, policy, attempt, isLast, follow);
  } catch (err) {
    const retry =
      err instanceof RetryLater ? err
      : !isLast ? new RetryLater(retryDelaySeconds(policy, attempt), `the page could not be processed: ${describe(err)}`, { cause: err })
      : null;
    if (retry) {
      // The URL is alive, only waiting for its next attempt: the reconciler leaves it alone for a while.
      await deps.store.noteRetry(message.crawlId, message.url, now(deps)).catch(() => undefined);
      throw retry;
    }
    const error = { code: 'INTERNAL_ERROR', message: `the page could not be processed in ${attempt} attempts (last: ${describe(err)})` };
    const summary = failedSummary({ url: message.url, fetchedAt: now(deps), error });
    // Straight to the store, not through a shared batch: this is the one write left between the URL and the DLQ.
    return recordTerminal(message, summary, deps, (crawlId, s, depth) => deps.store.recordPage(crawlId, s, depth));
  }
}

const describe = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, 500);

const now = (deps: ProcessDeps) => (deps.now ?? (() => new Date()))().toISOString();

const completeIfDone = (deps: ProcessDeps, crawlId: string, at: string) => (deps.completeIfDone ? deps.completeIfDone(crawlId, at) : deps.store.completeIfDone(crawlId, at));

/**
 * The consumer ran out of time while these deliveries were still in flight. Those on their last attempt end now, as
 * failed with that reason, rather than reach the DLQ unrecorded (a delivery may still finish in the background:
 * whichever records first counts, once); earlier attempts are left to SQS. One write per crawl (its pages share
 * transactions), since little time is left. Per entry, whether its URL is ended.
 */
export async function endUnfinished(entries: readonly { message: PageMessage; attempt: number }[], deps: ProcessDeps): Promise<boolean[]> {
  const policy = deps.retry ?? DEFAULT_RETRY_POLICY;
  const ended = entries.map(() => false);
  const byCrawl = new Map<string, number[]>();
  entries.forEach(({ message, attempt }, i) => {
    if (attempt >= policy.maxAttempts) byCrawl.set(message.crawlId, [...(byCrawl.get(message.crawlId) ?? []), i]);
  });
  await Promise.all(
    [...byCrawl].map(async ([crawlId, indexes]) => {
      const at = now(deps);
      const pages = indexes.map((i) => {
        const { message, attempt } = entries[i]!;
        const error = { code: 'TIMEOUT', message: `not finished within the consumer's time limit (${attempt} attempts)` };
        return { summary: failedSummary({ url: message.url, fetchedAt: at, error }), depth: message.depth };
      });
      const outcomes = await deps.store.recordPages(crawlId, pages);
      outcomes.forEach((outcome, k) => outcome === 'recorded' && deps.observe?.(pages[k]!.summary));
      for (const i of indexes) ended[i] = true;
      await completeIfDone(deps, crawlId, at);
    }),
  );
  return ended;
}

/** Records the URL's terminal summary, reports it, and completes the crawl if that was its last URL. */
async function recordTerminal(message: PageMessage, summary: Summary, deps: ProcessDeps, record: NonNullable<ProcessDeps['recordPage']>): Promise<RecordOutcome> {
  const outcome = await record(message.crawlId, summary, message.depth);
  if (outcome === 'recorded') deps.observe?.(summary);
  await completeIfDone(deps, message.crawlId, now(deps));
  return outcome;
}

async function tryPage(message: PageMessage, deps: ProcessDeps, policy: RetryPolicy, attempt: number, isLast: boolean, follow: FollowOn): Promise<PageOutcome> {
  // The URL's latest summary is read beside hasPage, not after the fetch: one round trip fewer on every page's path
  // (wasted only on a redelivered page). A failed read fails the page where it is used, as before.
  const latest = deps.store.latestFor(message.url);
  latest.catch(() => undefined);
  // So is the host's turn: its claim and the wait for it overlap those reads. A redelivered page (or one of a crawl
  // cancelled since) leaves its turn unused: its host waits one interval more, once.
  const admitted = deps.polite ? admitFirst(message, deps.polite, deps) : undefined;
  admitted?.catch(() => undefined);
  if (await deps.store.hasPage(message.crawlId, message.url)) {
    await completeIfDone(deps, message.crawlId, now(deps));
    return 'duplicate';
  }
  // Cancelled: the URL ends as CANCELLED, recorded as any outcome is, and nothing is fetched.
  if (await crawlCancelled(message.crawlId, deps)) return endCancelled(message, deps);
  const fetched = await fetchInTurn(message, deps, policy, attempt, isLast, admitted, follow);
  if (fetched.kind === 'ended') return fetched.outcome;
  const { summary, outlinks, retry } = fetched;
  if (retry && summary.error) {
    if (!isLast) throw new RetryLater(retryDelaySeconds(policy, attempt, retry.afterMs), `${summary.error.code}: ${summary.error.message}`);
    if (attempt > 1) summary.error = { ...summary.error, message: `${summary.error.message} (${attempt} attempts)` };
  }

  // Links on the page's own host this delivery fetches itself once the page is recorded (followOnHost), not queued.
  let kept: PageMessage[] = [];
  if (summary.ok && message.depth < message.maxDepth) {
    const scope = await scopeFor(message.crawlId, async () => (await crawlOf(message.crawlId, deps))?.options);
    const candidates = linksToFollow(outlinks(), message, scope);
    if (candidates.length > 0) {
      const toQueue = await deps.store.registerLinks(message.crawlId, message.url, candidates, {
        maxPages: message.maxPages,
        depth: message.depth + 1,
        leaseUntil: deps.leaseUntil ?? Date.now() + DEFAULT_LEASE_MS,
      });
      // A link is a new URL: the crawl's fields only, none of the attempts, reserved slot or wait of the page that found it.
      const { crawlId, maxDepth, sameOrigin, maxPages } = message;
      const crawlFields = { crawlId, maxDepth, sameOrigin, ...(maxPages !== undefined ? { maxPages } : {}) };
      const links = toQueue.map((url): PageMessage => ({ ...crawlFields, url, depth: message.depth + 1 }));
      // The host the page came from (a seed redirected to https or to www has its links there).
      const host = hostKeyOf(summary.finalUrl);
      const followsOn = follow.onHost !== undefined && links.length > 0 && (await pacedFollowOn(message, deps).catch(() => false));
      kept = followsOn ? links.filter((link) => hostKeyOf(link.url) === host) : [];
      const unsent = await deps.queue.send(kept.length > 0 ? links.filter((link) => hostKeyOf(link.url) !== host) : links);
      if (unsent.length > 0) {
        // Retrying makes registerLinks hand back the same children to queue again, once this delivery lets go of
        // them. On the last attempt they are counted already, so they must end too: as failed, or the crawl would
        // never complete.
        if (!isLast) {
          await deps.store.releaseLinks(message.crawlId, [...unsent, ...kept].map((m) => m.url));
          throw new RetryLater(retryDelaySeconds(policy, attempt), `${unsent.length} discovered URLs could not be queued`);
        }
        const at = now(deps);
        await deps.store.recordFailures(message.crawlId, unsent.map((m) => enqueueFailed(m.url, at)), message.depth + 1);
      }
    }
  }

  let outcome: RecordOutcome;
  try {
    outcome = await recordCompared(message, summary, deps, latest);
  } catch (err) {
    // Perhaps recorded all the same (a lost answer, or the completion check after it failed), so a redelivery may not
    // come back for the links kept: they are queued as any links, and those that cannot be are let go for it.
    if (kept.length > 0) {
      const unsent = await deps.queue.send(kept).catch(() => kept);
      if (unsent.length > 0) await deps.store.releaseLinks(message.crawlId, unsent.map((m) => m.url)).catch(() => undefined);
    }
    throw err;
  }
  follow.onHost?.push(...kept);
  return outcome;
}

/**
 * Whether a page's links on its own host are worth following on (followOnHost): the invocation says it may go on, and
 * the crawl paces its hosts (with hostDelayMs 0 its links are fetched fastest side by side, from the queue) at an
 * interval whose next turn, claimed as the request before leaves, can be waited for here (FOLLOW_ON_MAX_WAIT_MS).
 */
async function pacedFollowOn(message: PageMessage, deps: ProcessDeps): Promise<boolean> {
  if (!deps.polite || !deps.mayFollowOn?.()) return false;
  const hostDelayMs = (await crawlOf(message.crawlId, deps))?.options.hostDelayMs ?? deps.polite.settings.hostDelayMs;
  return hostDelayMs > 0 && hostDelayMs + PACE_MARGIN_MS + PRECONNECT_MS <= FOLLOW_ON_MAX_WAIT_MS;
}

/**
 * The delivery that found links on its page's own host fetches them itself, each in its host's turn, instead of
 * queueing them: a host crawled from its home page has its pages one after another in one Lambda, with the next turn
 * claimed while the request before it runs, rather than each link queued and received, reserved, sent away to wait
 * and received again (holding a batch in both places). The pages it fetches follow on with their own links on the
 * host. It stops, and queues the links left, as soon as:
 * - the invocation says no more (mayFollowOn: its time left, its other work); or
 * - a link's turn is further off than FOLLOW_ON_MAX_WAIT_MS (the host is busy with other work: the link went to the
 *   turn queue to wait, and so would the others).
 * At most two of its pages are in flight, the next claiming its turn (and waiting for it) as the one before is let go:
 * a slot following on fetches about one page at a time, and a host that takes longer than two intervals to answer
 * gets fewer pages than it has turns. If the delivery dies (or its invocation answers at its deadline), the links it
 * had not fetched are counted with no message: the reconciler queues them once their lease has run out and the crawl
 * stalls. A link whose delivery fails as any might (RetryLater) is queued on its own, with that attempt spent.
 */
async function followOnHost(links: PageMessage[], deps: ProcessDeps): Promise<void> {
  let stop = false;
  const running = new Set<Promise<void>>();
  for (;;) {
    if (!stop && links.length > 0 && running.size < FOLLOW_ON_IN_FLIGHT && deps.mayFollowOn?.()) {
      const link = links.shift()!;
      let admitted!: () => void;
      const turn = new Promise<void>((resolve) => (admitted = resolve));
      const run = followLink(link, deps, links, admitted)
        .then((outcome) => {
          if (outcome === 'deferred') stop = true;
        })
        .finally(() => running.delete(run));
      running.add(run);
      await Promise.race([turn, run]);
      continue;
    }
    if (running.size === 0) break;
    if (stop || !deps.mayFollowOn?.()) await queueLinks(links.splice(0), deps);
    await Promise.race(running);
  }
  if (links.length > 0) await queueLinks(links.splice(0), deps);
}

/** Pages a delivery following on has in flight: the one whose request runs, and the next, waiting for its turn. */
const FOLLOW_ON_IN_FLIGHT = 2;

/**
 * How far off a turn a page followed on waits for in the function (FollowOn.maxWaitMs). A busy process that misses a
 * turn takes the one after the next page's; waited for here, the host's pages go on, where sent to the turn queue
 * they would stop the chain.
 */
export const FOLLOW_ON_MAX_WAIT_MS = 3_000;

/** One link's delivery, followed on: its outcome, or 'queued' when it failed as any might and went to the queue. */
async function followLink(link: PageMessage, deps: ProcessDeps, onHost: PageMessage[], admitted: () => void): Promise<PageOutcome | 'queued'> {
  deps.observeFollowOn?.();
  try {
    return await processOne(link, deps, 1, { onHost, admitted, maxWaitMs: FOLLOW_ON_MAX_WAIT_MS });
  } catch (err) {
    const delaySeconds = err instanceof RetryLater ? err.delaySeconds : retryDelaySeconds(deps.retry ?? DEFAULT_RETRY_POLICY, 1);
    await queueLinks([{ ...link, attempts: 1 }], deps, delaySeconds);
    return 'queued';
  }
}

/**
 * Links a delivery following on did not fetch, sent to the page queue (after `delaySeconds`, a retry's). One that
 * cannot be sent (the queue adapter has retried) is counted and has no message: the reconciler queues it once its
 * lease has run out and the crawl stalls, as it does the links of a delivery that died.
 */
async function queueLinks(links: PageMessage[], deps: ProcessDeps, delaySeconds?: number): Promise<void> {
  if (links.length === 0) return;
  await deps.queue.send(links, delaySeconds !== undefined ? { delaySeconds } : undefined).catch(() => undefined);
}

/**
 * Records what the site gave for this URL (a page, or a refusal: robots.txt, an unreachable origin) compared with the
 * URL's latest earlier summary (crawl/change.ts), which it then replaces. What the crawler itself ended (a cancel, a
 * URL out of time or attempts, one it could not queue) is not the site's answer: it is recorded without a comparison
 * and leaves the latest summary as it was.
 */
async function recordCompared(message: PageMessage, summary: Summary, deps: ProcessDeps, latest = deps.store.latestFor(message.url)): Promise<RecordOutcome> {
  const base = baseFor(message.crawlId, await latest);
  const compared: Summary = { ...summary, depth: message.depth, ...compareWith(summary, base) };
  await deps.store.putLatest(message.crawlId, compared, base);
  return recordTerminal(message, compared, deps, deps.recordPage ?? ((crawlId, s, depth) => deps.store.recordPage(crawlId, s, depth)));
}

/**
 * The page's fetch, in its host's turn when politeness is on: admission (robots.txt, then the turn; a turn that is
 * later sends the URL away to come back for it, a refusal ends the URL or retries it, a cancel checked once the turn
 * is here ends it CANCELLED), the fetch held to its turn (a request that could not leave in time takes another turn,
 * MAX_TURNS at most), each redirect admitted as the URL was (a hop whose host's turn is later sends the URL away
 * too), and its answer told to AutoThrottle.
 */
async function fetchInTurn(
  message: PageMessage,
  deps: ProcessDeps,
  policy: RetryPolicy,
  attempt: number,
  isLast: boolean,
  admitted?: Promise<FirstAdmission>,
  follow: FollowOn = {},
): Promise<({ kind: 'fetched' } & SummarizedUrl) | { kind: 'ended'; outcome: PageOutcome }> {
  const network = deps.network ?? PUBLIC_INTERNET;
  const polite = deps.polite;
  if (!polite) return { kind: 'fetched', ...(await summarizeUrl(message.url, deps.limits, network, deps.analyze)) };
  const first = await (admitted ?? admitFirst(message, polite, deps));
  const crawl = first.crawl;
  const cancelled = () => crawlCancelled(message.crawlId, deps);
  let reservation = message.reservation;
  // A page followed on waits here for its turn until then, in all.
  const waitHereUntil = follow.maxWaitMs !== undefined ? Date.now() + follow.maxWaitMs : 0;
  // Turns this request could not leave in (LATE_START); waits here are not counted.
  let missed = 0;
  // Ended CANCELLED holding the slot it reserved (its message's, or one it waited here for): its host's queue is let go.
  const cancelledHere = () => endCancelled({ ...message, ...(reservation !== undefined ? { reservation } : {}) }, deps);
  for (let turns = 1; ; turns++) {
    const waited = await admitWaiting(message.url, crawl, polite, { reservation, preconnect: true, cancelled }, waitHereUntil, turns === 1 ? first.admission : undefined);
    const admission = waited.admission;
    reservation = waited.reservation;
    if (admission.kind === 'wait') return { kind: 'ended', outcome: await waitForTurn(message, admission, deps, attempt, isLast) };
    if (admission.kind === 'fail') {
      if (admission.error.code === CANCELLED) return { kind: 'ended', outcome: await cancelledHere() };
      // Never fetched (robots.txt): failed now, or, while robots.txt is unreachable, retried until the last attempt.
      if (admission.transient && !isLast) throw new RetryLater(retryDelaySeconds(policy, attempt), `${admission.error.code}: ${admission.error.message}`);
      const error = admission.transient && attempt > 1 ? { ...admission.error, message: `${admission.error.message} (${attempt} attempts)` } : admission.error;
      return { kind: 'ended', outcome: await recordCompared(message, failedSummary({ url: message.url, fetchedAt: now(deps), error }), deps) };
    }
    follow.admitted?.();
    const hops = redirectAdmission(crawl, polite, { cancelled });
    const limits: FetchLimits = { ...deps.limits, ...(admission.turn ? { turn: admission.turn } : {}), admitRedirect: hops.admit };
    const result = await summarizeUrl(message.url, limits, network, deps.analyze);
    const code = result.summary.error?.code;
    if (code === 'LATE_START') {
      reservation = undefined;
      if (++missed < MAX_TURNS) continue;
      // A process too busy to send its requests in their turns: the URL comes back in a moment, as any wait does,
      // using no attempt (the host was not asked anything).
      return { kind: 'ended', outcome: await waitForTurn(message, { kind: 'wait', until: Date.now() + BUSY_RETURN_MS }, deps, attempt, isLast) };
    }
    if (code === HOST_BUSY && hops.busyUntil !== undefined) {
      return { kind: 'ended', outcome: await waitForTurn(message, { kind: 'wait', until: hops.busyUntil }, deps, attempt, isLast) };
    }
    if (code === CANCELLED) return { kind: 'ended', outcome: await cancelledHere() };
    await reportResponse(message.url, { status: result.summary.status, errorCode: code }, polite);
    return { kind: 'fetched', ...result };
  }
}

interface FirstAdmission {
  crawl: CrawlPoliteness;
  admission: Admission;
}

/** The page's first admission (robots.txt, then its host's turn), for the crawl's options as the cache has them. */
async function admitFirst(message: PageMessage, polite: PoliteDeps, deps: ProcessDeps): Promise<FirstAdmission> {
  const crawl = (await crawlOf(message.crawlId, deps))?.options ?? {};
  const cancelled = () => crawlCancelled(message.crawlId, deps);
  return { crawl, admission: await admit(message.url, crawl, polite, { reservation: message.reservation, preconnect: true, cancelled }) };
}

/** When a URL whose process kept missing its turns (LATE_START, MAX_TURNS times) comes back. */
const BUSY_RETURN_MS = 2_000;

/**
 * How long a URL may wait in all for its hosts' turns. Waits use up no attempts, so without a bound a URL whose host
 * never has a turn for it (a queue that keeps growing ahead of it, a redirect to a host that is always busy) would
 * wait for ever; a crawl within its page cap at the longest Crawl-delay obeyed finishes well inside it.
 */
export const MAX_WAIT_FOR_TURN_MS = 7 * 24 * 3600 * 1000;

/**
 * The host's turn is later: the URL goes back as a new message on the turn queue, delayed until then, carrying its
 * reservation and the attempts it used (this delivery, a wait, is not one of them), and this delivery ends as done.
 * So a wait holds no Lambda and uses up no attempt, and its message never nears the DLQ. The URL is noted alive until
 * it comes back, so the reconciler does not take it for lost. If it cannot be sent, the delivery is retried as any
 * failure (on the last attempt the URL ends as failed rather than reach the DLQ). A URL that has waited
 * MAX_WAIT_FOR_TURN_MS in all ends HOST_BUSY.
 */
async function waitForTurn(message: PageMessage, wait: Extract<Admission, { kind: 'wait' }>, deps: ProcessDeps, attempt: number, isLast: boolean): Promise<PageOutcome> {
  const at = Date.now();
  const waitingSince = message.waitingSince ?? at;
  if (wait.until - waitingSince > MAX_WAIT_FOR_TURN_MS) {
    const days = Math.round(MAX_WAIT_FOR_TURN_MS / 86_400_000);
    return endFailed(message, { code: HOST_BUSY, message: `its host had no turn for it within ${days} days` }, deps);
  }
  const delaySeconds = delaySecondsUntil(wait.until, at);
  const { reservation: _spent, ...rest } = message;
  const next: PageMessage = { ...rest, attempts: attempt - 1, waitingSince, ...(wait.reservation !== undefined ? { reservation: wait.reservation } : {}) };
  const unsent = await (deps.turnQueue ?? deps.queue).send([next], { delaySeconds });
  if (unsent.length > 0) {
    if (!isLast) throw new RetryLater(Math.max(1, delaySeconds), "the URL could not be sent again to wait for its host's turn");
    throw new Error("the URL could not be sent again to wait for its host's turn");
  }
  await deps.store.noteRetry(message.crawlId, message.url, new Date(at + delaySeconds * 1000).toISOString()).catch(() => undefined);
  return 'deferred';
}

/** Ends the URL as failed with `error` (never fetched), through the same recording path as any outcome. */
function endFailed(message: PageMessage, error: { code: string; message: string }, deps: ProcessDeps): Promise<RecordOutcome> {
  const failed = failedSummary({ url: message.url, fetchedAt: now(deps), error });
  return recordTerminal(message, failed, deps, deps.recordPage ?? ((crawlId, s, depth) => deps.store.recordPage(crawlId, s, depth)));
}

/**
 * Ends the URL of a cancelled crawl as CANCELLED, through the same recording path as any outcome (counts stay exact).
 * One that came back for a slot it had reserved releases its host's queue of reservations, which the crawl's other
 * URLs would otherwise hold for other crawls until they come back too (HostPacer.releaseReservations).
 */
async function endCancelled(message: PageMessage, deps: ProcessDeps): Promise<RecordOutcome> {
  if (message.reservation !== undefined && deps.polite) {
    const cancelledAt = Date.parse((await crawlOf(message.crawlId, deps).catch(() => null))?.cancelledAt ?? '');
    if (Number.isFinite(cancelledAt)) await deps.polite.pacer.releaseReservations(hostKeyOf(message.url), cancelledAt).catch(() => undefined);
  }
  return recordTerminal(message, cancelledSummary(message.url, now(deps)), deps, deps.recordPage ?? ((crawlId, s, depth) => deps.store.recordPage(crawlId, s, depth)));
}

/**
 * Whether the page's crawl was cancelled, as the crawl cache saw it at most 2 s ago (a store read when no cache is
 * given). Checked right before a fetch starts: a request starts at most that long after a DELETE was answered, plus
 * whatever runs between this check and the fetch, so a wait added there must check again after it.
 */
export async function crawlCancelled(crawlId: string, deps: Pick<ProcessDeps, 'crawls' | 'store'>): Promise<boolean> {
  const crawl = await crawlOf(crawlId, deps);
  return crawl?.status === 'cancelled';
}

/** The crawl as the cache has it (at most seconds old), or read from the store when no cache is given. */
const crawlOf = (crawlId: string, deps: Pick<ProcessDeps, 'crawls' | 'store'>) => (deps.crawls ? deps.crawls.get(crawlId) : deps.store.getCrawl(crawlId));

/**
 * The page's links this crawl follows, each once, at most MAX_LINKS_PER_PAGE of them: on the page's origin when the
 * crawl says sameOrigin, and within its include/exclude patterns (scope.ts).
 */
function linksToFollow(outlinks: readonly string[], message: PageMessage, scope: Scope): string[] {
  const origin = new URL(message.url).origin;
  const out = new Set<string>();
  for (const link of outlinks) {
    const check = normalizeUrl(link);
    if (!check.ok) continue;
    if (message.sameOrigin && new URL(check.url).origin !== origin) continue;
    if (!scope.allows(check.url)) continue;
    if (check.url !== message.url) out.add(check.url);
    if (out.size === MAX_LINKS_PER_PAGE) break;
  }
  return [...out];
}
