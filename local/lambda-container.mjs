// One Lambda execution environment: a worker thread that loads one function's bundle once (its cold start) and then
// runs one invocation at a time, as Lambda's Node.js runtime does. Plain JavaScript because it is a worker entry
// point: it must load without the TypeScript loader, exactly like the bundle it runs.
import { randomUUID } from 'node:crypto';
import module from 'node:module';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

const { bundle, functionName, memorySize, compileCacheDir } = workerData;

// V8's compiled code for the bundle, kept on disk (Node 22.1+): every container after the first starts faster.
if (compileCacheDir && module.enableCompileCache) module.enableCompileCache(compileCacheDir);

const serialize = (err) =>
  err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : { name: 'Error', message: String(err) };

let handler;
try {
  handler = (await import(pathToFileURL(bundle).href)).handler;
  if (typeof handler !== 'function') throw new Error(`${bundle} exports no handler function`);
  module.flushCompileCache?.();
} catch (err) {
  parentPort.postMessage({ type: 'init-error', error: serialize(err) });
  process.exit(1);
}

function context(deadline, requestId) {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION}:000000000000:function:${functionName}`,
    memoryLimitInMB: String(memorySize),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

parentPort.on('message', async ({ id, event, deadline }) => {
  const requestId = randomUUID();
  try {
    const result = await handler(event, context(deadline, requestId));
    parentPort.postMessage({ type: 'result', id, result: result === undefined ? null : result });
  } catch (err) {
    parentPort.postMessage({ type: 'error', id, error: serialize(err) });
  }
});
parentPort.postMessage({ type: 'ready' });
