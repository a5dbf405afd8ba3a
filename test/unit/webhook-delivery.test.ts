import { describe, expect, it } from 'vitest';
import { FetchError } from '../../functions/core/fetch/http-client.js';
import type { PostResponse } from '../../functions/core/fetch/http-post.js';
import { deliverWebhook, type DeliverDeps } from '../../functions/core/webhooks/deliver-webhook.js';
import { deliveryId, webhookBody, webhookDeliverySchema, type WebhookDelivery } from '../../functions/core/webhooks/delivery-message.js';
import { retryDelaySeconds, WEBHOOK_MAX_RECEIVE_COUNT } from '../../functions/core/webhooks/retry-schedule.js';
import { verifySignature } from '../../functions/core/webhooks/signing.js';

const crawlId = '01ARZ3NDEKTSV4RRFFQ69G5FAV';
const delivery: WebhookDelivery = {
  id: deliveryId('page.changed', crawlId, 'https://example.com/a'),
  type: 'page.changed',
  createdAt: '2026-11-30T08:00:00.000Z',
  data: { crawlId, url: 'https://example.com/a', changedFields: ['title'], previous: { title: 'Old' }, summary: { title: 'Nouveau ✓' } },
  webhookUrl: 'https://hooks.example.com/crawler?token=abc',
  crawlId,
};

describe('the delivery message', () => {
  it('gives an event the same id every time, and different events different ids', () => {
    expect(deliveryId('page.changed', crawlId, 'https://example.com/a')).toBe(delivery.id);
    const others = [
      deliveryId('page.changed', crawlId, 'https://example.com/b'),
      deliveryId('page.changed', '01ARZ3NDEKTSV4RRFFQ69G5FAW', 'https://example.com/a'),
      deliveryId('crawl.completed', crawlId),
      deliveryId('page.changed', crawlId),
    ];
    expect(new Set([delivery.id, ...others]).size).toBe(5);
  });

  it('keeps the parts of an id apart: no crawl id and URL split differently collide', () => {
    expect(deliveryId('page.changed', 'a', 'bc')).not.toBe(deliveryId('page.changed', 'ab', 'c'));
  });

  it('posts exactly id, type, createdAt and data, in that order, without where it goes', () => {
    const body = webhookBody(delivery);
    expect(body).toBe(
      `{"id":"${delivery.id}","type":"page.changed","createdAt":"2026-11-30T08:00:00.000Z","data":` +
        '{"crawlId":"01ARZ3NDEKTSV4RRFFQ69G5FAV","url":"https://example.com/a","changedFields":["title"],"previous":{"title":"Old"},"summary":{"title":"Nouveau ✓"}}}',
    );
  });

  it('reads back what is sent on the queue, and refuses a message of another shape', () => {
    expect(webhookDeliverySchema.parse(JSON.parse(JSON.stringify(delivery)))).toEqual(delivery);
    expect(webhookDeliverySchema.safeParse({ ...delivery, type: 'crawl.started' }).success).toBe(false);
    expect(webhookDeliverySchema.safeParse({ ...delivery, webhookUrl: undefined }).success).toBe(false);
  });
});

/** A receiver that answers each POST from the list, recording what it was sent. */
function receiver(answers: Array<PostResponse | FetchError>) {
  const sent: Array<{ url: string; body: string; headers: Readonly<Record<string, string>> }> = [];
  const post: DeliverDeps['post'] = async (url, body, headers) => {
    sent.push({ url, body, headers });
    const answer = answers[sent.length - 1]!;
    if (answer instanceof FetchError) throw answer;
    return answer;
  };
  return { sent, deps: { secret: 'the secret', post, retryBaseSeconds: 30 } satisfies DeliverDeps };
}

describe('deliverWebhook', () => {
  it('POSTs the body with its event, delivery id and a signature of that exact body', async () => {
    const { sent, deps } = receiver([{ status: 204, location: null }]);
    expect(await deliverWebhook(delivery, deps, 1)).toEqual({ kind: 'delivered', status: 204 });
    expect(sent).toHaveLength(1);
    const [{ url, body, headers }] = sent as [(typeof sent)[number]];
    expect(url).toBe(delivery.webhookUrl);
    expect(body).toBe(webhookBody(delivery));
    expect(headers).toMatchObject({ 'content-type': 'application/json', 'x-crawler-event': 'page.changed', 'x-crawler-delivery': delivery.id });
    expect(verifySignature('the secret', body, headers['x-crawler-signature'])).toBe(true);
  });

  it.each([
    [500, 'HTTP_500'],
    [404, 'HTTP_404'],
    [302, 'HTTP_302'],
    [101, 'HTTP_101'],
  ])('retries a %i on the schedule of its receive count', async (status, code) => {
    const { deps } = receiver([{ status, location: status === 302 ? 'https://elsewhere.example/' : null }]);
    expect(await deliverWebhook(delivery, deps, 3)).toMatchObject({ kind: 'retry', code, status, delaySeconds: retryDelaySeconds(3, 30) });
  });

  it('says a redirect was not followed', async () => {
    const { deps } = receiver([{ status: 301, location: 'https://elsewhere.example/' }]);
    expect(await deliverWebhook(delivery, deps, 1)).toMatchObject({ kind: 'retry', reason: expect.stringContaining('redirects are not followed') });
  });

  it('retries a POST that got no answer, with its error code', async () => {
    const { deps } = receiver([new FetchError('TIMEOUT', 'no response within 10000 ms', delivery.webhookUrl, null, true)]);
    expect(await deliverWebhook(delivery, deps, 1)).toEqual({ kind: 'retry', code: 'TIMEOUT', reason: 'no response within 10000 ms', status: null, delaySeconds: 30 });
  });

  it("gives up when the queue's last receive fails too", async () => {
    const { deps } = receiver([{ status: 503, location: null }, { status: 503, location: null }]);
    expect(await deliverWebhook(delivery, deps, WEBHOOK_MAX_RECEIVE_COUNT - 1)).toMatchObject({ kind: 'retry' });
    expect(await deliverWebhook(delivery, deps, WEBHOOK_MAX_RECEIVE_COUNT)).toEqual({ kind: 'gave-up', code: 'HTTP_503', reason: 'the receiver answered 503', status: 503 });
  });

  it('delivers on the last receive when the receiver is back', async () => {
    const { deps } = receiver([{ status: 200, location: null }]);
    expect(await deliverWebhook(delivery, deps, WEBHOOK_MAX_RECEIVE_COUNT)).toEqual({ kind: 'delivered', status: 200 });
  });
});
