import { readFileSync } from 'node:fs';
import { type CacheOptions, validateCacheOptions } from '@cachelab/cache';
import * as v from 'valibot';
import {
  type ClusterNode,
  INSTANCE_ID_LENGTH,
  SETTINGS,
  type Setting,
  type SettingName,
  type Settings,
  settingDefault,
} from './settings.ts';

export { type ClusterNode, INSTANCE_ID_LENGTH, SETTINGS, type Setting, settingDefault };

/**
 * Settings of one instance, read from the environment once, at start: one per entry of
 * {@link SETTINGS}, where each is declared and described, but `REDIS_TLS_CA_FILE`, whose file is
 * read at start.
 */
export type AppConfig = Omit<Settings, 'redisTlsCaFile'> & {
  /** The PEM text of `REDIS_TLS_CA_FILE`. @default none */
  redisTlsCa: string | undefined;
};

type Env = Record<string, string | undefined>;

/** The cache options a configuration sets (all but the Redis clients, origin, events and hooks). */
export type ConfiguredCacheOptions = Omit<
  CacheOptions,
  'redis' | 'subscriber' | 'origin' | 'events' | 'hooks' | 'onError'
>;

const ENTRIES = Object.entries(SETTINGS) as [SettingName, Setting][];

/** The setting of each cache option a setting sets. */
const CACHE_SETTINGS = new Map(
  ENTRIES.flatMap(([, setting]) => (setting.option ? [[setting.option, setting]] : [])),
);

// #region tutorial:cache-options
/** The cache options of a configuration: each setting that declares its option, as it was read. */
export function cacheOptionsOf(config: Partial<Settings>): ConfiguredCacheOptions {
  const options: Record<string, unknown> = {};
  for (const [name, setting] of ENTRIES) {
    if (setting.option && config[name] !== undefined) options[setting.option] = config[name];
  }
  const { invalidationSecrets, redisClusterNodes } = config;
  return {
    ...options,
    signingSecret: invalidationSecrets?.length ? invalidationSecrets : undefined,
    pubsub: redisClusterNodes ? 'sharded' : 'global',
  };
}
// #endregion tutorial:cache-options

/** The library's problems with the cache settings, each under its variable's name. */
function cacheProblems(config: Partial<Settings>, env: Env): string[] {
  const variable = (option: string) =>
    CACHE_SETTINGS.get(option as keyof CacheOptions)?.env ?? `\`${option}\``;
  return validateCacheOptions(cacheOptionsOf(config)).map(({ option, rule }) => {
    const name = variable(option);
    const raw = env[name];
    // A secret is never quoted.
    const quote = CACHE_SETTINGS.get(option as keyof CacheOptions)?.quote !== false;
    const got = raw && quote ? `, got ${JSON.stringify(raw)}` : '';
    return `${name} ${rule.replace(/`(\w+)`/g, (_, other: string) => variable(other))}${got}`;
  });
}

/**
 * Some settings read from `env` as an instance reads them: the value of each, its default when
 * unset or empty, and every problem, each naming its variable (a cache setting's by the library's
 * rules, as far as the settings read allow).
 */
export function readSettings<K extends SettingName>(
  env: Env,
  names: readonly K[],
): { values: Partial<Pick<Settings, K>>; problems: string[] } {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const name of names) {
    const { env: variable, schema, quote } = SETTINGS[name] as Setting;
    // Unset and empty are the same: the default.
    const raw = env[variable] === '' ? undefined : env[variable];
    const parsed = v.safeParse(schema, raw);
    if (parsed.success) {
      values[name] = parsed.output;
    } else {
      const got = quote === false ? '' : `, got ${JSON.stringify(raw)}`;
      problems.push(`${variable} ${parsed.issues[0].message}${got}`);
    }
  }
  problems.push(...cacheProblems(values, env));
  return { values: values as Partial<Pick<Settings, K>>, problems };
}

/** Reads and validates the configuration; throws one error listing every invalid variable. */
export function readConfig(env: Env): AppConfig {
  const { values, problems } = readSettings(env, Object.keys(SETTINGS) as SettingName[]);
  const { redisTlsCaFile, ...settings } = values as Settings;
  const config: AppConfig = {
    ...settings,
    redisTlsCa:
      redisTlsCaFile === undefined
        ? undefined
        : readPem(SETTINGS.redisTlsCaFile.env, redisTlsCaFile, problems),
  };
  if (redisTlsCaFile !== undefined && !config.redisUrl?.startsWith('rediss:')) {
    problems.push('REDIS_TLS_CA_FILE needs a rediss:// REDIS_URL');
  }
  if (problems.length > 0) throw new Error(`invalid configuration:\n  ${problems.join('\n  ')}`);
  return config;
}

/** The certificates of a PEM file; a problem when it cannot be read or holds none. */
function readPem(name: string, path: string, problems: string[]): string | undefined {
  try {
    const pem = readFileSync(path, 'utf8');
    if (pem.includes('-----BEGIN CERTIFICATE-----')) return pem;
    problems.push(`${name}: ${path} holds no PEM certificate`);
  } catch (error) {
    problems.push(`${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code})`);
  }
  return undefined;
}

/** A URL with its password masked, fit for logs. */
export function redactUrl(raw: string): string {
  const url = new URL(raw);
  if (url.password) url.password = '***';
  return url.toString();
}
