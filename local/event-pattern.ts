/**
 * EventBridge's pattern matching, the part Lambda's event filters use here (functions/adapters/stream-filters.ts):
 * nested fields, lists of exact values, `prefix` and `exists`. A pattern using anything else is refused when it is
 * compiled, so the local stack never silently matches differently from AWS.
 */

type Leaf = string | number | boolean | null | { prefix: string } | { exists: boolean };
export type EventPattern = { readonly [field: string]: EventPattern | readonly Leaf[] };

/** Throws, naming the field, unless every leaf of the pattern is one this matcher implements. */
export function checkPattern(pattern: EventPattern, path = ''): void {
  for (const [field, rule] of Object.entries(pattern)) {
    const at = `${path}${field}`;
    if (!Array.isArray(rule)) {
      checkPattern(rule as EventPattern, `${at}.`);
      continue;
    }
    for (const leaf of rule as readonly Leaf[]) {
      if (leaf === null || typeof leaf !== 'object') continue;
      const keys = Object.keys(leaf);
      const known = (keys.length === 1 && 'prefix' in leaf && typeof leaf.prefix === 'string') || (keys.length === 1 && 'exists' in leaf && typeof leaf.exists === 'boolean');
      if (!known) throw new Error(`the local event filter does not implement ${JSON.stringify(leaf)} (at ${at}): only exact values, prefix and exists`);
    }
  }
}

/** Whether the value matches the pattern: every field of the pattern matches (EventBridge's rules for these operators). */
export function matchesPattern(pattern: EventPattern, value: unknown): boolean {
  const object = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  return Object.entries(pattern).every(([field, rule]) => {
    const fieldValue = object?.[field];
    if (!Array.isArray(rule)) return matchesPattern(rule as EventPattern, fieldValue);
    return (rule as readonly Leaf[]).some((leaf) => matchesLeaf(leaf, fieldValue));
  });
}

function matchesLeaf(leaf: Leaf, value: unknown): boolean {
  if (leaf !== null && typeof leaf === 'object') {
    if ('exists' in leaf) return leaf.exists === (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value)));
    return anyOf(value, (v) => typeof v === 'string' && v.startsWith(leaf.prefix));
  }
  return anyOf(value, (v) => v === leaf);
}

/** A field holding a list matches when one of its items does. */
const anyOf = (value: unknown, test: (v: unknown) => boolean) => (Array.isArray(value) ? value.some(test) : test(value));
