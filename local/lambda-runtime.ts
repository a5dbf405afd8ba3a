import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { build } from 'esbuild';
import { ESBUILD_OPTIONS } from '../lib/bundling.js';

/**
 * Lambda's execution model on this machine. Each function runs from its own esbuild bundle (built as the CDK builds
 * it), in containers that are worker threads with the function's own environment and a heap capped at its memory
 * size. A container runs one invocation at a time; a function has at most `maxConcurrency` containers; an invocation
 * that runs past the function's timeout is stopped with its container, as Lambda stops it. So module-level state (SDK
 * clients, Powertools' BatchProcessor, caches) behaves exactly as on AWS: shared by the invocations of one container,
 * one after another, and never by two at once.
 */

export interface FunctionBundles {
  /** Path of each handler's bundle, by handler file name. */
  readonly files: Record<string, string>;
  remove(): Promise<void>;
}

/** Bundles the handlers with the deployed bundling options, into a temporary directory. */
export async function buildFunctionBundles(handlerFiles: readonly string[]): Promise<FunctionBundles> {
  const outdir = await mkdtemp(join(tmpdir(), 'serverless-crawler-bundles-'));
  const handlersDir = fileURLToPath(new URL('../functions/handlers/', import.meta.url));
  await build({
    ...ESBUILD_OPTIONS,
    entryPoints: Object.fromEntries(handlerFiles.map((name) => [name, `${handlersDir}${name}.ts`])),
    outdir,
    // The directory has no package.json saying "type": "module"; the extension says it.
    outExtension: { '.js': '.mjs' },
    sourcemap: true,
  });
  return {
    files: Object.fromEntries(handlerFiles.map((name) => [name, join(outdir, `${name}.mjs`)])),
    remove: () => rm(outdir, { recursive: true, force: true }),
  };
}

export interface LocalFunctionOptions {
  /** As the deployed function is named, for logs and the invocation context. */
  name: string;
  bundle: string;
  /** The function's whole environment: nothing else of this process's environment reaches it. */
  environment: Record<string, string>;
  memorySize: number;
  timeoutSeconds: number;
  /** Containers at most, as the function's concurrency limit. */
  maxConcurrency: number;
}

/** Lambda's error when a function runs past its timeout. */
export class FunctionTimeoutError extends Error {
  constructor(name: string, seconds: number) {
    super(`${name}: Task timed out after ${seconds.toFixed(2)} seconds`);
    this.name = 'FunctionTimeoutError';
  }
}

/** An error the function's handler threw (or its container died of), rebuilt on this side. */
export class FunctionError extends Error {
  constructor(name: string, detail: { name: string; message: string; stack?: string }) {
    super(`${name}: ${detail.name}: ${detail.message}`);
    this.name = 'FunctionError';
    if (detail.stack) this.stack = detail.stack;
  }
}

const INIT_TIMEOUT_MS = 30_000;

const CONTAINER_ENTRY = fileURLToPath(new URL('./lambda-container.mjs', import.meta.url));

type Reply =
  | { type: 'ready' }
  | { type: 'init-error'; error: { name: string; message: string; stack?: string } }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; error: { name: string; message: string; stack?: string } };

/** One execution environment: a worker thread running the bundle, one invocation at a time. */
class Container {
  private readonly worker: Worker;
  private readonly ready: Promise<void>;
  private current: { id: number; resolve: (v: unknown) => void; reject: (e: Error) => void } | null = null;
  private nextId = 0;
  dead = false;

  constructor(private readonly options: LocalFunctionOptions) {
    this.worker = new Worker(CONTAINER_ENTRY, {
      workerData: { bundle: options.bundle, functionName: options.name, memorySize: options.memorySize, compileCacheDir: join(dirname(options.bundle), '.compile-cache') },
      env: options.environment,
      // Not this process's flags (tsx's loader, when the stack runs from source): a container runs plain JavaScript.
      execArgv: [],
      resourceLimits: { maxOldGenerationSizeMb: options.memorySize },
    });
    this.ready = new Promise<void>((resolve, reject) => {
      this.worker.on('message', (reply: Reply) => {
        if (reply.type === 'ready') return resolve();
        if (reply.type === 'init-error') {
          this.dead = true;
          return reject(new FunctionError(options.name, reply.error));
        }
        const current = this.current;
        if (!current || current.id !== reply.id) return;
        this.current = null;
        if (reply.type === 'result') current.resolve(reply.result);
        else current.reject(new FunctionError(options.name, reply.error));
      });
      // A crash (an uncaught exception, an unhandled rejection, running out of its memory) ends the container, and
      // fails the invocation it was running, as the Node.js runtime does on Lambda.
      const die = (err: Error) => {
        this.dead = true;
        reject(err);
        this.current?.reject(err);
        this.current = null;
      };
      this.worker.on('error', (err) => die(new FunctionError(options.name, { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) })));
      this.worker.on('exit', (code) => die(new FunctionError(options.name, { name: 'Runtime.ExitError', message: `the function's process exited with code ${code}` })));
    });
    // Nobody may be waiting yet when an init error arrives; the invocation that awaits `ready` sees it.
    this.ready.catch(() => undefined);
  }

  async invoke(event: unknown): Promise<unknown> {
    // Lambda gives a cold start its own time limit (10 s); on a busy laptop this one is more patient, but never endless.
    let initTimer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.ready,
        new Promise<never>((_, reject) => {
          initTimer = setTimeout(() => {
            this.dead = true;
            void this.worker.terminate();
            reject(new FunctionError(this.options.name, { name: 'Runtime.InitTimeout', message: `the function did not load within ${INIT_TIMEOUT_MS / 1000} s` }));
          }, INIT_TIMEOUT_MS);
        }),
      ]);
    } finally {
      clearTimeout(initTimer);
    }
    if (this.dead) throw new FunctionError(this.options.name, { name: 'Runtime.ExitError', message: "the function's container is gone" });
    const timeoutMs = this.options.timeoutSeconds * 1000;
    const id = this.nextId++;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<unknown>((resolve, reject) => {
        this.current = { id, resolve, reject };
        timer = setTimeout(() => {
          this.dead = true;
          this.current = null;
          void this.worker.terminate();
          reject(new FunctionTimeoutError(this.options.name, this.options.timeoutSeconds));
        }, timeoutMs);
        this.worker.postMessage({ id, event, deadline: Date.now() + timeoutMs });
      });
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    this.dead = true;
    await this.worker.terminate();
  }
}

/** A function's containers: reused warm, created cold up to its concurrency, replaced when one dies. */
export class LocalFunction {
  private readonly idle: Container[] = [];
  private readonly all = new Set<Container>();
  private readonly waiting: { resolve: (container: Container) => void; reject: (err: Error) => void }[] = [];
  private stopped = false;

  constructor(readonly options: LocalFunctionOptions) {}

  /** Invokes the function once (Lambda's synchronous invoke): its result, or the error it failed with. */
  async invoke<T = unknown>(event: unknown): Promise<T> {
    if (this.stopped) throw new Error(`${this.options.name} is stopped`);
    const container = await this.acquire();
    try {
      return (await container.invoke(event)) as T;
    } finally {
      this.release(container);
    }
  }

  /** Containers alive now (warm or busy). */
  get containers(): number {
    return this.all.size;
  }

  private acquire(): Promise<Container> {
    // A warm container may have died while idle (a crash in work its last invocation left running): never reuse it.
    for (let warm = this.idle.pop(); warm; warm = this.idle.pop()) {
      if (!warm.dead) return Promise.resolve(warm);
      this.all.delete(warm);
      void warm.stop();
    }
    if (this.all.size < this.options.maxConcurrency) {
      const container = new Container(this.options);
      this.all.add(container);
      return Promise.resolve(container);
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private release(container: Container): void {
    if (container.dead || this.stopped) {
      this.all.delete(container);
      void container.stop();
      // Its slot is free: a waiting invocation gets a fresh container (a cold start).
      const next = this.waiting.shift();
      if (next && !this.stopped) {
        const fresh = new Container(this.options);
        this.all.add(fresh);
        next.resolve(fresh);
      }
      return;
    }
    const next = this.waiting.shift();
    if (next) next.resolve(container);
    else this.idle.push(container);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const waiter of this.waiting.splice(0)) waiter.reject(new Error(`${this.options.name} is stopped`));
    await Promise.all([...this.all].map((c) => c.stop()));
    this.all.clear();
    this.idle.length = 0;
  }
}
