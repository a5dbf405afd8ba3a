import { Token } from 'aws-cdk-lib';

/**
 * Synth-time checks of a construct's props, in the manner of aws-solutions-constructs' CheckProps: every problem at
 * once, in one error that names the construct, the prop, the value given and what it must be. Tokens (values only
 * known at deploy time) pass.
 */
export function checkProps(construct: string, problems: readonly (string | undefined)[]): void {
  const found = problems.filter((problem): problem is string => problem !== undefined);
  if (found.length === 1) throw new Error(`${construct}: ${found[0]}`);
  if (found.length > 1) throw new Error(`${construct}:\n${found.map((problem) => `- ${problem}`).join('\n')}`);
}

/** The problem with `value` unless it is an integer from `min` to `max`. */
export function integerIn(prop: string, value: number, min: number, max: number): string | undefined {
  if (Token.isUnresolved(value) || (Number.isInteger(value) && value >= min && value <= max)) return undefined;
  return `${prop} must be an integer from ${min} to ${max}, not ${value}`;
}

/** The problem with `value` unless it is a finite number (an integer, if asked) above zero. */
export function positive(prop: string, value: number, integer = false): string | undefined {
  if (Token.isUnresolved(value) || ((integer ? Number.isInteger(value) : Number.isFinite(value)) && value > 0)) return undefined;
  return `${prop} must be ${integer ? 'an integer' : 'a number'} above 0, not ${value}`;
}
