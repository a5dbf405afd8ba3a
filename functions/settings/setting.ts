/**
 * How a function's settings are declared, read and set. Each function declares its settings once, in
 * functions/settings/<function>.ts: every setting with its environment variable, its doc and, for a number, its range
 * and default. From that one declaration
 * - the function reads its settings once at cold start (loadSettings: the only code in functions/ that reads
 *   process.env), failing with a message that names each variable at fault;
 * - the CDK app and the local stack set the variables (lib/function-definitions.ts): the configured values from the
 *   deployment configuration, and the resource names through the bindings that grant access to them;
 * - lib/config.ts takes the range and default of the deployment settings that feed them.
 * Plain data without dependencies (not even zod, which the read and reconcile bundles do not otherwise carry): the
 * CDK app loads this module too, and a bundle gains only the reader.
 */

interface Declared {
  /** The environment variable. */
  readonly env: string;
  /** What it means, for a reader of the declaration. */
  readonly doc: string;
}

/** An integer with a range and a default: set from the deployment configuration. */
export interface IntegerSetting extends Declared {
  readonly kind: 'integer';
  readonly min: number;
  readonly max: number;
  readonly default: number;
}

/** A line of text with a default (e.g. the User-Agent): set from the deployment configuration. */
export interface TextSetting extends Declared {
  readonly kind: 'text';
  /** Printable ASCII only (it may go into an HTTP header), at most this long. */
  readonly maxLength: number;
  readonly default: string;
}

/**
 * The resources a function can be bound to; the binding sets the variable and grants the access. `queue` is the page
 * queue, `turnQueue` the queue of URLs waiting for their host's turn, `webhookQueue` the webhook delivery queue,
 * `eventBus` the EventBridge bus events are put on, `secret` the webhook signing secret (Secrets Manager).
 */
export const RESOURCE_KINDS = ['table', 'queue', 'turnQueue', 'webhookQueue', 'eventBus', 'secret'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

/** A required name of a resource (the table's name, a queue's URL, the bus's name, the secret's ARN), set by binding the function to it. */
export interface ResourceSetting extends Declared {
  readonly kind: 'resource';
  readonly resource: ResourceKind;
}

/**
 * A safety default that only the exact string "true" lifts (a typo keeps the safe behaviour). Never set by a
 * deployment; a person sets it by hand, and the local stack passes it on from its own environment.
 */
export interface SwitchSetting extends Declared {
  readonly kind: 'switch';
}

export type Setting = IntegerSetting | TextSetting | ResourceSetting | SwitchSetting;

/** A function's settings: settings and groups of settings, by the name the function reads them under. */
export interface Settings {
  readonly [name: string]: Setting | Settings;
}

type ValueOf<S extends Setting> = S extends IntegerSetting ? number : S extends TextSetting | ResourceSetting ? string : boolean;

/** What loadSettings returns: the same shape, each setting replaced by its value. */
export type SettingsValues<S extends Settings> = {
  readonly [K in keyof S]: S[K] extends Setting ? ValueOf<S[K]> : S[K] extends Settings ? SettingsValues<S[K]> : never;
};

type HasConfigured<T> = T extends IntegerSetting | TextSetting ? true : T extends Setting ? false : T extends Settings ? (keyof ConfiguredValues<T> extends never ? false : true) : false;

/** The values a deployment gives a function: every integer and text setting, in the same shape (resources and switches apart). */
export type ConfiguredValues<S extends Settings> = {
  readonly [K in keyof S as HasConfigured<S[K]> extends true ? K : never]: S[K] extends IntegerSetting
    ? number
    : S[K] extends TextSetting
      ? string
    : S[K] extends Settings
      ? ConfiguredValues<S[K]>
      : never;
};

export function integer(declaration: Omit<IntegerSetting, 'kind'>): IntegerSetting {
  return { ...declaration, kind: 'integer' };
}

export function text(declaration: Omit<TextSetting, 'kind'>): TextSetting {
  return { ...declaration, kind: 'text' };
}

/** Whether a text setting's value is usable: printable ASCII (a header value), not blank, not too long. */
export function isUsableText(setting: TextSetting, value: string): boolean {
  return value.trim() !== '' && value.length <= setting.maxLength && /^[\x20-\x7e]*$/.test(value);
}

export function resource(resourceKind: ResourceKind, declaration: Declared): ResourceSetting {
  return { ...declaration, kind: 'resource', resource: resourceKind };
}

export function safetySwitch(declaration: Declared): SwitchSetting {
  return { ...declaration, kind: 'switch' };
}

const isSetting = (entry: Setting | Settings): entry is Setting => typeof entry['env'] === 'string';

/** Every setting in the declaration, groups flattened. */
export function settingsIn(settings: Settings): Setting[] {
  return Object.values(settings).flatMap((entry) => (isSetting(entry) ? [entry] : settingsIn(entry)));
}

type Environment = Readonly<Record<string, string | undefined>>;

/** Whether the switch is on: only the exact string "true" (not trimmed, not case-folded) turns it on. */
export function isOn(setting: SwitchSetting, env: Environment = process.env): boolean {
  return env[setting.env] === 'true';
}

function read(setting: Setting, env: Environment, problems: string[]): number | string | boolean {
  const raw = env[setting.env];
  switch (setting.kind) {
    case 'switch':
      return isOn(setting, env);
    case 'resource':
      if (raw === undefined || raw.trim() === '') problems.push(`${setting.env} is required but not set`);
      return raw?.trim() ?? '';
    case 'text':
      if (raw === undefined) return setting.default;
      if (!isUsableText(setting, raw)) problems.push(`${setting.env} must be printable ASCII of 1 to ${setting.maxLength} characters, not ${JSON.stringify(raw.slice(0, 80))}`);
      return raw;
    case 'integer': {
      if (raw === undefined) return setting.default;
      const value = raw.trim() === '' ? Number.NaN : Number(raw);
      if (!Number.isSafeInteger(value) || value < setting.min || value > setting.max) {
        problems.push(`${setting.env} must be an integer from ${setting.min} to ${setting.max}, not ${JSON.stringify(raw)}`);
      }
      return value;
    }
  }
}

function readAll(settings: Settings, env: Environment, problems: string[]): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(settings).map(([name, entry]) => [name, isSetting(entry) ? read(entry, env, problems) : readAll(entry, env, problems)]),
  );
}

/**
 * A function's settings from its environment, read once at cold start (a handler keeps the result at module scope).
 * A required variable that is missing, or a value out of its range, throws one error naming every variable at fault:
 * the function fails to start rather than run with a setting it was not given.
 */
export function loadSettings<S extends Settings>(settings: S, env: Environment = process.env): SettingsValues<S> {
  const problems: string[] = [];
  const values = readAll(settings, env, problems);
  if (problems.length > 0) throw new Error(`The function's settings are not usable:\n- ${problems.join('\n- ')}`);
  return values as SettingsValues<S>;
}

/** The variables that give a function its configured values (lib/function-definitions.ts sets them on deploy). */
export function configuredEnvironment<S extends Settings>(settings: S, values: ConfiguredValues<S>): Record<string, string> {
  const environment: Record<string, string> = {};
  const walk = (group: Settings, groupValues: Readonly<Record<string, unknown>>) => {
    for (const [name, entry] of Object.entries(group)) {
      if (!isSetting(entry)) walk(entry, (groupValues[name] ?? {}) as Record<string, unknown>);
      else if (entry.kind === 'integer' || entry.kind === 'text') environment[entry.env] = String(groupValues[name]);
    }
  };
  walk(settings, values as Record<string, unknown>);
  return environment;
}

/** The variables the function reads the name of a resource of this kind from (the binding sets them). */
export function resourceVariables(settings: Settings, kind: ResourceKind): string[] {
  return settingsIn(settings).flatMap((setting) => (setting.kind === 'resource' && setting.resource === kind ? [setting.env] : []));
}

/**
 * The variables naming the resources the function reads, set to the given names. A resource the function reads but
 * is not given is an error, as a CDK binding missing is at synth.
 */
export function resourceEnvironment(settings: Settings, resources: Readonly<Partial<Record<ResourceKind, string>>>): Record<string, string> {
  return Object.fromEntries(
    RESOURCE_KINDS.flatMap((kind) =>
      resourceVariables(settings, kind).map((name) => {
        const value = resources[kind];
        if (value === undefined) throw new Error(`${name} names a ${kind}, but no ${kind} was given`);
        return [name, value];
      }),
    ),
  );
}

/** The variables of the function's safety switches. */
export function switchVariables(settings: Settings): string[] {
  return settingsIn(settings).flatMap((setting) => (setting.kind === 'switch' ? [setting.env] : []));
}
