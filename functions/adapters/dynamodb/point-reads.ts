import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetEach, type Key, type TableRef } from './requests.js';

type Item = Record<string, unknown>;

/**
 * Strongly consistent reads of single items, those asked for in one turn of the event loop sent as one BatchGetItem.
 * The pages of a consumer's batch start together, each with two reads (whether its URL is recorded in the crawl, and
 * the URL's latest summary): a batch of 16 makes one request where it made 32. Each read still answers on its own: an
 * error fails every read of its request, as it failed the one read before.
 */
export class PointReads {
  private waiting: { key: Key; resolve: (item: Item | undefined) => void; reject: (err: unknown) => void }[] = [];

  constructor(private readonly t: TableRef) {}

  get(key: Key): Promise<Item | undefined> {
    return new Promise((resolve, reject) => {
      if (this.waiting.length === 0) setImmediate(() => void this.send());
      this.waiting.push({ key, resolve, reject });
    });
  }

  private async send(): Promise<void> {
    const reads = this.waiting;
    this.waiting = [];
    // A BatchGetItem refuses a key given twice: each key once, its item handed to every read of it.
    const byKey = new Map<string, { key: Key; item?: Item }>();
    for (const { key } of reads) byKey.set(keyId(key), { key });
    try {
      if (byKey.size === 1) {
        const [only] = byKey.values();
        const out = await this.t.db.send(new GetCommand({ TableName: this.t.name, Key: only!.key, ConsistentRead: true }));
        only!.item = out.Item;
      } else {
        await batchGetEach(this.t, [...byKey.values()].map((k) => k.key), {}, (item) => {
          const entry = byKey.get(keyId({ PK: item['PK'], SK: item['SK'] }));
          if (entry) entry.item = item;
        });
      }
    } catch (err) {
      for (const read of reads) read.reject(err);
      return;
    }
    for (const read of reads) read.resolve(byKey.get(keyId(read.key))!.item);
  }
}

const keyId = (key: Key) => `${String(key['PK'])}\u0000${String(key['SK'])}`;
