import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { analyzeBlocking, type Analysis, type Analyze } from './analyze-body.js';

/**
 * Parsing is the crawler's CPU cost; where a machine has more than one core, a pool of worker threads parses while
 * the main thread fetches. A worker runs this same module (in a Lambda, the same bundle file), recognized by its
 * workerData, so the pool needs no separate entry point in the bundle.
 */
const ROLE = 'serverless-crawler:parse';

interface Task {
  id: number;
  /** The body's bytes, the whole buffer (moved to the worker, not copied). */
  body: ArrayBuffer;
  contentType: string | null;
  documentUrl: string;
}
type Reply = { id: number; result: Analysis } | { id: number; error: string };

/** True inside a parse worker, which loads the same module (or bundle) as the code that started it. */
export const isParseWorker = !isMainThread && (workerData as { role?: string } | null)?.role === ROLE;

if (isParseWorker) {
  parentPort!.on('message', (task: Task) => {
    analyzeBlocking(Buffer.from(task.body), task.contentType, task.documentUrl).then(
      (result) => parentPort!.postMessage({ id: task.id, result } satisfies Reply),
      (err: unknown) => parentPort!.postMessage({ id: task.id, error: err instanceof Error ? err.message : String(err) } satisfies Reply),
    );
  });
}

/**
 * A worker's heap is capped: V8 would otherwise let each worker's garbage grow to hundreds of MB before collecting,
 * multiplying the process's memory. 128 MB old space holds the largest page the body cap allows (measured: at 64 MB
 * some corpus pages ran a worker out of memory). The young space is where a page's short-lived strings and objects
 * die: at 8 MB the scavenges cost ~15% throughput in the bench, at 48 MB little, for ~60 MB more peak RSS.
 */
const WORKER_HEAP = { maxYoungGenerationSizeMb: 48, maxOldGenerationSizeMb: 128 };

/** Pages handed to one worker at a time: one parsing, one ready, so a worker never waits on the main thread. */
const IN_FLIGHT = 2;

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (a: Analysis) => void; reject: (e: Error) => void }>;
}

export class ParsePool {
  private readonly slots: Slot[] = [];
  private nextId = 0;

  constructor(
    readonly size: number,
    private readonly file = fileURLToPath(import.meta.url),
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    // From TypeScript sources (tests, the bench, `npm start`) the worker registers tsx's loader first; a bundle is JS.
    const worker = this.file.endsWith('.ts')
      ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(pathToFileURL(this.file).href)}); });`, {
          eval: true,
          workerData: { role: ROLE },
          resourceLimits: WORKER_HEAP,
        })
      : new Worker(this.file, { workerData: { role: ROLE }, resourceLimits: WORKER_HEAP });
    const slot: Slot = { worker, pending: new Map() };
    slot.worker.unref();
    slot.worker.on('message', (reply: Reply) => {
      const waiter = slot.pending.get(reply.id);
      slot.pending.delete(reply.id);
      if (slot.pending.size === 0) slot.worker.unref();
      if ('error' in reply) waiter?.reject(new Error(reply.error));
      else waiter?.resolve(reply.result);
    });
    // A worker that dies (whatever its exit code) fails its pages, which the engine records, and is replaced.
    const fail = (err: Error) => {
      for (const waiter of slot.pending.values()) waiter.reject(err);
      slot.pending.clear();
      const index = this.slots.indexOf(slot);
      if (index >= 0) this.slots[index] = this.spawn();
    };
    slot.worker.on('error', fail);
    slot.worker.on('exit', (code) => fail(new Error(`parse worker exited with code ${code}`)));
    return slot;
  }

  /** Pages waiting for a worker: at most IN_FLIGHT are handed to each, so bodies queue here, not in a capped heap. */
  private readonly waiting: { body: Buffer; contentType: string | null; documentUrl: string; resolve: (a: Analysis) => void; reject: (e: Error) => void }[] = [];

  /** Parses on a free worker. The body's memory moves to the worker when it owns it whole; else it is copied. */
  readonly analyze: Analyze = (body, contentType, documentUrl) =>
    new Promise<Analysis>((resolve, reject) => {
      this.waiting.push({ body, contentType, documentUrl, resolve, reject });
      this.dispatch();
    });

  private dispatch(): void {
    while (this.waiting.length > 0) {
      const slot = this.slots.reduce((best, s) => (s.pending.size < best.pending.size ? s : best));
      if (slot.pending.size >= IN_FLIGHT) return;
      const { body, contentType, documentUrl, resolve, reject } = this.waiting.shift()!;
      const id = this.nextId++;
      const whole = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
      const bytes = whole ? (body.buffer as ArrayBuffer) : new Uint8Array(body).buffer;
      slot.pending.set(id, {
        resolve: (a) => (resolve(a), this.dispatch()),
        reject: (e) => (reject(e), this.dispatch()),
      });
      slot.worker.ref();
      const task: Task = { id, body: bytes, contentType, documentUrl };
      slot.worker.postMessage(task, [bytes]);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }
}
