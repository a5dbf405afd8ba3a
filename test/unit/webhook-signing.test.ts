import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signBody, verifySignature } from '../../functions/core/webhooks/signing.js';

describe('webhook signatures', () => {
  it('is sha256= and the hex HMAC-SHA256 of the raw body (RFC 4231 test case 2)', () => {
    expect(signBody('Jefe', 'what do ya want for nothing?')).toBe('sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('signs the body as UTF-8, byte for byte as node:crypto computes it', () => {
    const secret = 'a webhook secret';
    const body = JSON.stringify({ id: 'd', type: 'page.changed', createdAt: '2026-01-01T00:00:00.000Z', data: { title: 'Café ✓ 🚀' } });
    const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(Buffer.from(body, 'utf8')).digest('hex');
    expect(signBody(secret, body)).toBe(`sha256=${expected}`);
  });

  it('verifies the signature of the same body and secret, as a string or as the raw bytes received', () => {
    const body = '{"id":"x","data":{"n":1}}';
    const header = signBody('s3cret', body);
    expect(verifySignature('s3cret', body, header)).toBe(true);
    expect(verifySignature('s3cret', Buffer.from(body), header)).toBe(true);
  });

  it.each([
    ['another body', 's3cret', '{"id":"x","data":{"n":2}}', (h: string) => h],
    ['another secret', 'other', '{"id":"x","data":{"n":1}}', (h: string) => h],
    ['no prefix', 's3cret', '{"id":"x","data":{"n":1}}', (h: string) => h.slice('sha256='.length)],
    ['a truncated signature', 's3cret', '{"id":"x","data":{"n":1}}', (h: string) => h.slice(0, -2)],
    ['upper-case hex', 's3cret', '{"id":"x","data":{"n":1}}', (h: string) => `sha256=${h.slice(7).toUpperCase()}`],
  ])('rejects %s', (_, secret, body, mangle) => {
    expect(verifySignature(secret, body, mangle(signBody('s3cret', '{"id":"x","data":{"n":1}}')))).toBe(false);
  });

  it('rejects a missing header', () => {
    expect(verifySignature('s3cret', 'body', undefined)).toBe(false);
    expect(verifySignature('s3cret', 'body', null)).toBe(false);
  });
});
