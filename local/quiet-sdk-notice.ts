/**
 * The AWS SDK announces, once per process, that releases after January 2027 will need Node 22. The versions this
 * project pins run on Node 20, so in the local stack's and CLI's terminal output the notice is noise. Every other
 * warning still prints.
 */
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  if (String(warning instanceof Error ? warning.message : warning).startsWith('NodeVersionSupportWarning')) return;
  return (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;
