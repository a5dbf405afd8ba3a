import { afterEach, describe, expect, it, vi } from 'vitest';
import { LOCAL_ENDPOINT, resolveEndpoint, signingRegion } from '../../cli/endpoint.js';
import { UsageError } from '../../cli/errors.js';
import { Progress } from '../../cli/progress.js';

function sink() {
  const writes: string[] = [];
  return { writes, stream: { write: (s: string) => writes.push(s) } as unknown as NodeJS.WriteStream };
}
const status = (done: number, failed: number, total: number, s: 'running' | 'completed' = 'running') => ({
  crawlId: 'C', status: s, total, succeeded: done - failed, failed, createdAt: '',
});

describe('Progress', () => {
  it('redraws one line on a terminal: bar, done/total, percent, failures, rate and ETA', () => {
    const { writes, stream } = sink();
    let now = 0;
    const p = new Progress(stream, true, 5_000, () => now);
    p.update(status(0, 0, 2000));
    now = 4_000;
    p.update(status(400, 3, 2000));
    expect(writes.at(-1)).toBe('\r\u001b[2K[█████░░░░░░░░░░░░░░░░░░░] 400/2,000  20% · 3 failed · 100.0 pages/s · ETA 0:16');
    now = 20_000;
    p.update(status(2000, 3, 2000, 'completed'));
    p.end();
    expect(writes.at(-2)).toMatch(/\[█{24}\] 2,000\/2,000 100% · 3 failed · [\d.]+ pages\/s · done$/);
    expect(writes.at(-1)).toBe('\n');
  });

  it('prints plain lines, at most one every 5 s, and always the last, when not on a terminal', () => {
    const { writes, stream } = sink();
    let now = 1;
    const p = new Progress(stream, false, 5_000, () => now);
    for (const [t, done] of [[1, 0], [2_000, 10], [4_000, 20], [6_500, 30], [7_000, 40]] as const) {
      now = t;
      p.update(status(done, 0, 40, done === 40 ? 'completed' : 'running'));
    }
    expect(writes).toHaveLength(3);
    expect(writes[0]).toMatch(/^running: 0\/40   0%/);
    expect(writes[1]).toMatch(/^running: 30\/40  75%/);
    expect(writes[2]).toMatch(/^completed: 40\/40 100% · 0 failed · [\d.]+ pages\/s · done\n$/);
  });
});

describe('endpoint', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('signs for execute-api hosts in their own region, not for the local stack unless asked', () => {
    expect(signingRegion('https://abc123.execute-api.eu-west-1.amazonaws.com/v1', false)).toBe('eu-west-1');
    expect(signingRegion('http://127.0.0.1:3000', false)).toBeNull();
    vi.stubEnv('AWS_REGION', 'ap-south-1');
    expect(signingRegion('https://crawler.example.com', true)).toBe('ap-south-1');
  });

  it('uses --endpoint, else the --outputs file, else the local stack', () => {
    expect(resolveEndpoint('http://x/', undefined).url).toBe('http://x/');
    expect(resolveEndpoint(undefined, undefined)).toMatchObject({ url: LOCAL_ENDPOINT, source: 'the local stack' });
    expect(() => resolveEndpoint(undefined, '/no/such/outputs.json')).toThrow(/cannot read the stack outputs/);
  });

  it('refuses an --endpoint that is not an absolute http(s) URL as bad usage, naming it and what is expected', () => {
    for (const bad of ['not-a-url', 'ftp://x/', '127.0.0.1:3000', 'http://']) {
      expect(() => resolveEndpoint(bad, undefined)).toThrow(UsageError);
      expect(() => resolveEndpoint(bad, undefined)).toThrow(`--endpoint "${bad}" is not an absolute http(s) URL; give the local stack's address`);
    }
    expect(resolveEndpoint('https://abc123.execute-api.eu-west-1.amazonaws.com/v1/', undefined).source).toBe('--endpoint');
  });
});
