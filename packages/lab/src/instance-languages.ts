/**
 * The languages a cachelab instance can be written in, and how `npm start` and the lab start one.
 * Every instance, whatever its language, serves the same HTTP contract and reads the same
 * settings from its environment (`PORT`, `INSTANCE_NAME`, `CLUSTER_RUN_ID`, `REDIS_URL`,
 * `REDIS_CLUSTER_NODES`, `DATABASE_URL`, `DB_LATENCY_MS`, `SEED_USERS`, `CACHE_*`), so the
 * cluster, the lab and its checker treat them alike.
 */

/** How an instance of one language is started, from the repository root. */
export interface InstanceLauncher {
  /** The command `npm start` runs (after `npm run build`), e.g. the compiled JavaScript. */
  start: readonly string[];
  /** The command the lab and the tests run: from the sources when the language has a build. */
  fromSources: readonly string[];
  /**
   * Run once, before the first instance of the language starts (by `npm start` and the lab):
   * idempotent, quick when there is nothing to do, e.g. creating a virtual environment.
   * @default none
   */
  prepare?: readonly string[];
}

/** Languages that have an instance, by the name `INSTANCE_LANGUAGES` gives them. */
export const INSTANCE_LAUNCHERS = {
  node: {
    start: ['node', 'packages/app/dist/main.js'],
    fromSources: ['node', '--import', 'tsx', 'packages/app/src/main.ts'],
  },
  python: {
    // languages/python/src/cachelab_instance, installed editable into languages/python/.venv.
    start: ['languages/python/.venv/bin/cachelab-instance'],
    fromSources: ['languages/python/.venv/bin/cachelab-instance'],
    prepare: ['bash', 'languages/python/setup.sh'],
  },
  go: {
    // languages/go/instance, a module of its own; `go build` does nothing when it is up to date.
    start: ['languages/go/instance/bin/cachelab-instance'],
    fromSources: ['languages/go/instance/bin/cachelab-instance'],
    prepare: [
      'go',
      '-C',
      'languages/go/instance',
      'build',
      '-o',
      'bin/cachelab-instance',
      './cmd/cachelab-instance',
    ],
  },
} as const satisfies Record<string, InstanceLauncher>;

/** A language that has an instance. */
export type InstanceLanguage = keyof typeof INSTANCE_LAUNCHERS;

/**
 * The other languages of the course outline (docs/tutorial/README.md), which have no instance
 * yet: named in the error, so that "java" reads as "not yet", not as a typo.
 */
const PLANNED_LANGUAGES = ['java', 'rust', 'c', 'php', 'dotnet'] as const;

/** `INSTANCE_LANGUAGES` that cannot be used; the message names the variable. */
export class InstanceLanguagesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InstanceLanguagesError';
  }
}

/**
 * The language of each instance, from `INSTANCE_LANGUAGES` (comma-separated, one per instance,
 * e.g. `node,node,python`). Unset or empty: `count` Node instances. When both are given they must
 * agree; `count` undefined means "as many as listed".
 * @throws InstanceLanguagesError naming the first language without an instance.
 */
export function parseInstanceLanguages(
  raw: string | undefined,
  count: number | undefined,
  fallbackCount: number,
): InstanceLanguage[] {
  const listed = raw?.trim() ? raw.split(',').map((name) => name.trim().toLowerCase()) : undefined;
  if (!listed) return Array.from({ length: count ?? fallbackCount }, () => 'node');
  const known = Object.keys(INSTANCE_LAUNCHERS).join(', ');
  for (const name of listed) {
    if (name in INSTANCE_LAUNCHERS) continue;
    if ((PLANNED_LANGUAGES as readonly string[]).includes(name)) {
      throw new InstanceLanguagesError(
        `\`INSTANCE_LANGUAGES\`: ${name} has no cachelab instance yet (instances exist in: ${known})`,
      );
    }
    throw new InstanceLanguagesError(
      `\`INSTANCE_LANGUAGES\`: "${name}" is not a language cachelab knows (instances exist in: ${known}; planned: ${PLANNED_LANGUAGES.join(', ')})`,
    );
  }
  if (count !== undefined && count !== listed.length) {
    throw new InstanceLanguagesError(
      `\`INSTANCE_LANGUAGES\` names ${listed.length} instance(s) but \`INSTANCES\` is ${count}: give one language per instance, or leave INSTANCES unset`,
    );
  }
  return listed as InstanceLanguage[];
}

/** The `prepare` commands of `languages`, each once, in the order the languages first appear. */
export function prepareCommands(languages: readonly InstanceLanguage[]): (readonly string[])[] {
  const launchers: InstanceLauncher[] = [...new Set(languages)].map(
    (language) => INSTANCE_LAUNCHERS[language],
  );
  return launchers.flatMap((launcher) => (launcher.prepare ? [launcher.prepare] : []));
}
