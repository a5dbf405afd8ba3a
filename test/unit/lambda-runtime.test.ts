import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FunctionError, FunctionTimeoutError, LocalFunction, type LocalFunctionOptions } from '../../local/lambda-runtime.js';

/** Small handler modules standing in for bundles: the runtime loads any ESM file that exports `handler`. */
const HANDLERS = {
  'probe.mjs': `
    let inFlight = 0;
    let invocations = 0;
    // One per container: a time would do only if no two containers could load in the same millisecond.
    const containerId = globalThis.crypto.randomUUID();
    export const handler = async (event, context) => {
      inFlight++;
      invocations++;
      const concurrent = inFlight;
      await new Promise((r) => setTimeout(r, event.sleepMs ?? 0));
      inFlight--;
      return {
        concurrent,
        invocations,
        containerId,
        setting: process.env.SETTING ?? null,
        leaked: process.env.PARENT_ONLY ?? null,
        remainingMs: context.getRemainingTimeInMillis(),
        functionName: context.functionName,
      };
    };`,
  'hang.mjs': `
    let invocations = 0;
    export const handler = async (event) => {
      invocations++;
      if (event.hang) await new Promise(() => setInterval(() => undefined, 1000));
      return { invocations };
    };`,
  'crash.mjs': `
    export const handler = async (event) => {
      if (event.dieLater) {
        setTimeout(() => { throw new Error('after answering'); }, 20);
        return 'answered';
      }
      if (event.crash) setTimeout(() => { throw new Error('uncaught in a timer'); }, 0);
      if (event.crash) await new Promise((r) => setTimeout(r, 1000));
      if (event.fail) throw new TypeError('the handler failed');
      return 'ok';
    };`,
  'broken.mjs': `throw new Error('cannot load: missing setting');`,
};

let dir: string;
const fns: LocalFunction[] = [];
const fn = (file: keyof typeof HANDLERS, options: Partial<LocalFunctionOptions> = {}) => {
  const created = new LocalFunction({
    name: `test-${file}`,
    bundle: join(dir, file),
    environment: { SETTING: 'from-definition' },
    memorySize: 128,
    timeoutSeconds: 5,
    maxConcurrency: 3,
    ...options,
  });
  fns.push(created);
  return created;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lambda-runtime-test-'));
  for (const [name, code] of Object.entries(HANDLERS)) await writeFile(join(dir, name), code);
  vi.stubEnv('PARENT_ONLY', 'must not leak');
});
afterAll(async () => {
  await Promise.all(fns.map((f) => f.stop()));
  await rm(dir, { recursive: true, force: true });
  vi.unstubAllEnvs();
});

describe('local Lambda runtime', () => {
  it("gives a function its own environment and Lambda's context, nothing of this process's", async () => {
    const result = await fn('probe.mjs').invoke<Record<string, unknown>>({});
    expect(result).toMatchObject({ setting: 'from-definition', leaked: null, functionName: 'test-probe.mjs' });
    expect(result['remainingMs']).toBeGreaterThan(3_000);
    expect(result['remainingMs']).toBeLessThanOrEqual(5_000);
  });

  it('runs one invocation at a time per container, with at most maxConcurrency containers, reusing warm ones', async () => {
    const probe = fn('probe.mjs');
    const results = await Promise.all(Array.from({ length: 12 }, () => probe.invoke<{ concurrent: number; containerId: string }>({ sleepMs: 50 })));
    expect(results.map((r) => r.concurrent)).toEqual(Array(12).fill(1));
    expect(probe.containers).toBe(3);
    expect(new Set(results.map((r) => r.containerId)).size).toBe(3);
  });

  it('gives the next free container to the invocations waiting for one, in the order they asked', async () => {
    const probe = fn('probe.mjs', { maxConcurrency: 1 });
    const order = (p: Promise<{ invocations: number }>) => p.then((r) => r.invocations);
    const busy = order(probe.invoke({ sleepMs: 200 }));
    const waiting = [order(probe.invoke({})), order(probe.invoke({})), order(probe.invoke({}))];
    expect([await busy, ...(await Promise.all(waiting))]).toEqual([1, 2, 3, 4]);
  });

  it('stops an invocation that runs past the timeout, with its container; the next one starts cold', async () => {
    const hang = fn('hang.mjs', { timeoutSeconds: 1, maxConcurrency: 1 });
    expect(await hang.invoke({})).toEqual({ invocations: 1 });
    await expect(hang.invoke({ hang: true })).rejects.toBeInstanceOf(FunctionTimeoutError);
    await expect(hang.invoke({ hang: true })).rejects.toThrow('Task timed out after 1.00 seconds');
    expect(await hang.invoke({})).toEqual({ invocations: 1 });
  });

  it('fails the invocation whose handler throws, and the one whose container crashed, and goes on', async () => {
    const crash = fn('crash.mjs', { maxConcurrency: 1 });
    await expect(crash.invoke({ fail: true })).rejects.toThrow('TypeError: the handler failed');
    expect(await crash.invoke({})).toBe('ok');
    await expect(crash.invoke({ crash: true })).rejects.toBeInstanceOf(FunctionError);
    expect(await crash.invoke({})).toBe('ok');
  });

  it('does not hand an invocation to a container that died while idle', async () => {
    const crash = fn('crash.mjs', { maxConcurrency: 1 });
    expect(await crash.invoke({ dieLater: true })).toBe('answered');
    await new Promise((r) => setTimeout(r, 300));
    expect(await crash.invoke({})).toBe('ok');
  });

  it('fails every invocation of a function whose module cannot load, with the reason', async () => {
    const broken = fn('broken.mjs');
    await expect(broken.invoke({})).rejects.toThrow('cannot load: missing setting');
    await expect(broken.invoke({})).rejects.toThrow('cannot load: missing setting');
  });
});
