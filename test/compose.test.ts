import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readConfig } from '@cachelab/app';
import { CLUSTER_DEFAULTS, instanceName } from '@cachelab/lab/cluster-defaults.ts';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// No Docker engine here: docker-compose.yml and the Dockerfile are checked statically against
// what `npm start` runs, and with `docker-compose config` when that binary is installed.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  profiles?: string[];
  entrypoint?: string[];
}

const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;

/** A value as Compose resolves it with nothing set: `${NAME:-default}` → default. */
function resolved(value: string | undefined): string | undefined {
  return value?.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1');
}

/** A published port: `127.0.0.1:${VARIABLE:-default}:container`. */
const PUBLISHED = /^127\.0\.0\.1:\$\{([A-Z0-9_]+_HOST_PORT):-(\d+)\}:(\d+)$/;

function onPath(name: string): string | undefined {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .map((dir) => join(dir, name))
    .find((path) => {
      try {
        accessSync(path, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

const apps = Array.from({ length: CLUSTER_DEFAULTS.instances }, (_, i) => ({
  name: instanceName(i),
  port: CLUSTER_DEFAULTS.basePort + i,
}));

describe('docker-compose.yml', () => {
  it('runs Redis, PostgreSQL and the instances npm start runs, under the same names', () => {
    const byDefault = Object.keys(services).filter((name) => !services[name]?.profiles);
    expect(byDefault.sort()).toEqual(['postgres', 'redis', ...apps.map((app) => app.name)].sort());
  });

  it('runs, in the cluster profile, six cluster nodes, a one-shot create, and instances on them', () => {
    const profile = Object.keys(services).filter((name) =>
      services[name]?.profiles?.includes('cluster'),
    );
    const nodes = [1, 2, 3, 4, 5, 6].map((n) => `redis-node-${n}`);
    const clusterApps = ['cluster-app-1', 'cluster-app-2', 'cluster-app-3'];
    expect(profile.sort()).toEqual(
      [...nodes, 'redis-cluster-create', 'postgres-cluster', ...clusterApps].sort(),
    );
    for (const node of nodes) {
      expect(services[node]?.image, node).toBe('redis:7');
      expect(services[node]?.command, node).toEqual(
        expect.arrayContaining(['--cluster-enabled', 'yes']),
      );
    }
    const create = services['redis-cluster-create'];
    expect(Object.keys(create?.depends_on ?? {}).sort()).toEqual(nodes);
    expect(create?.command?.join('\n')).toContain('--cluster-replicas 1');
    for (const [i, name] of clusterApps.entries()) {
      const service = services[name];
      expect(service?.image, name).toBe('cachelab-app');
      expect(service?.depends_on?.['redis-cluster-create']?.condition, name).toBe(
        'service_completed_successfully',
      );
      expect(service?.environment?.REDIS_CLUSTER_NODES, name).toBe(
        'redis-node-1:6379,redis-node-2:6379,redis-node-3:6379',
      );
      expect(service?.ports, name).toEqual([
        `127.0.0.1:\${CLUSTER_APP_${i + 1}_HOST_PORT:-${3011 + i}}:${3011 + i}`,
      ]);
    }
  });

  it('gives each instance the port, name and settings npm start gives it', () => {
    for (const { name, port } of apps) {
      const env = Object.fromEntries(
        Object.entries(services[name]?.environment ?? {}).map(([k, v]) => [k, resolved(String(v))]),
      );
      expect(env, name).toMatchObject({
        PORT: String(port),
        INSTANCE_NAME: name,
        HOST: '0.0.0.0',
        REDIS_URL: 'redis://redis:6379',
        DB_LATENCY_MS: String(CLUSTER_DEFAULTS.dbLatencyMs),
        SEED_USERS: String(CLUSTER_DEFAULTS.seedUsers),
        CACHE_STRATEGY: 'versioned',
      });
      // The instance's own config reader accepts the environment and reads what npm start sets.
      const config = readConfig(env);
      expect(config).toMatchObject({ port, instanceName: name, cacheStrategy: 'versioned' });
      expect(services[name]?.ports?.map(resolved)).toEqual([`127.0.0.1:${port}:${port}`]);
      expect(services[name]?.build).toBe('.');
    }
  });

  it('points the instances at the PostgreSQL service with its own credentials', () => {
    const pg = services.postgres?.environment ?? {};
    const url = new URL(resolved(services['app-1']?.environment?.DATABASE_URL) ?? '');
    expect(url.protocol).toBe('postgres:');
    expect(url.hostname).toBe('postgres');
    expect(url.port).toBe('5432');
    expect(url.username).toBe(pg.POSTGRES_USER);
    expect(url.password).toBe(pg.POSTGRES_PASSWORD);
    expect(url.pathname).toBe(`/${pg.POSTGRES_DB}`);
    expect(services.postgres?.image).toMatch(/^postgres:\d+/);
  });

  it('starts the instances only once Redis and PostgreSQL report healthy', () => {
    expect(services.redis?.healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
    expect(services.postgres?.healthcheck?.test.slice(0, 2)).toEqual(['CMD', 'pg_isready']);
    for (const { name } of apps) {
      expect(services[name]?.depends_on, name).toEqual({
        redis: { condition: 'service_healthy' },
        postgres: { condition: 'service_healthy' },
      });
    }
  });

  it('configures Redis from the file npm start uses: maxmemory 256mb, allkeys-lru', () => {
    const mount = '/usr/local/etc/redis/redis.conf';
    expect(services.redis?.volumes).toContain(`./config/redis.conf:${mount}:ro`);
    expect(services.redis?.command?.slice(0, 2)).toEqual(['redis-server', mount]);
    expect(read('scripts/cluster.ts')).toContain("'exec redis-server config/redis.conf'");
    const directives = Object.fromEntries(
      read('config/redis.conf')
        .split('\n')
        .filter((line) => line.trim() && !line.startsWith('#'))
        .map((line) => line.trim().split(/\s+/, 2) as [string, string]),
    );
    expect(directives).toMatchObject({ maxmemory: '256mb', 'maxmemory-policy': 'allkeys-lru' });
  });

  it('publishes every port on the loopback interface only, each on a host port the environment sets', () => {
    const ports = Object.values(services).flatMap((service) => service.ports ?? []);
    expect(ports.length).toBeGreaterThan(apps.length);
    for (const port of ports) expect(port).toMatch(PUBLISHED);
    const variables = ports.map((port) => PUBLISHED.exec(port)?.[1]);
    expect(new Set(variables).size).toBe(ports.length);
  });

  it('publishes Redis and PostgreSQL by default where a host Redis, PostgreSQL or npm start are not', () => {
    const published = (service: string) => PUBLISHED.exec(services[service]?.ports?.[0] ?? '');
    const taken = [6379, 5432, CLUSTER_DEFAULTS.dbPort, ...apps.map((app) => app.port)];
    expect(published('redis')?.slice(1)).toEqual(['REDIS_HOST_PORT', '16379', '6379']);
    expect(published('postgres')?.slice(1)).toEqual(['POSTGRES_HOST_PORT', '15432', '5432']);
    for (const service of ['redis', 'postgres']) {
      expect(taken).not.toContain(Number(published(service)?.[2]));
    }
  });

  it.skipIf(!onPath('docker-compose'))(
    'is valid for docker-compose config, which moves the host ports',
    async () => {
      const { stdout } = await promisify(execFile)(
        'docker-compose',
        ['-f', 'docker-compose.yml', 'config'],
        {
          cwd: ROOT,
          timeout: 20_000,
          env: { ...process.env, CACHE_STRATEGY: '', REDIS_HOST_PORT: '46379' },
        },
      );
      const normalized = parse(stdout) as {
        services: Record<string, { environment?: Record<string, string>; ports?: unknown[] }>;
      };
      expect(Object.keys(normalized.services).sort()).toEqual(Object.keys(services).sort());
      expect(normalized.services['app-2']?.environment?.INSTANCE_NAME).toBe('app-2');
      expect(JSON.stringify(normalized.services.redis?.ports)).toContain('46379');
    },
  );
});

describe('the Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const runtime = stages.at(-1) ?? '';

  it('builds in two stages from a Node 20 image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage).toMatch(/^node:20\S* AS \w+/);
    expect(stages[0]).toMatch(/RUN npm ci\b/);
  });

  it('installs production dependencies only in the image it runs, and runs the compiled app without tsx', () => {
    expect(runtime).toMatch(/RUN npm ci --omit=dev/);
    const app = JSON.parse(read('packages/app/package.json')) as {
      dependencies: Record<string, string>;
    };
    expect(app.dependencies.tsx).toBeUndefined();
    for (const name of ['cache', 'store', 'app']) {
      expect(runtime).toContain(
        `COPY --from=build /app/packages/${name}/dist packages/${name}/dist`,
      );
    }
    expect(runtime).not.toMatch(/\/src\b/);
    expect(runtime).toMatch(/CMD \["node", "packages\/app\/dist\/main\.js"\]/);
  });

  it('runs as the unprivileged node user, with a healthcheck that needs no curl', () => {
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).not.toMatch(/^USER root$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*\n?.*CMD \["node", "-e", ".*\/readyz/m);
  });

  it('exposes the ports docker-compose.yml runs the instances on, and listens on one by default', () => {
    const exposed = /^EXPOSE (.+)$/m.exec(runtime)?.[1]?.split(/\s+/) ?? [];
    expect(exposed).toEqual(apps.map((app) => String(app.port)));
    expect(exposed).toContain(/^ENV .*\bPORT=(\d+)/m.exec(runtime)?.[1]);
  });

  it('type-checks with the TypeScript of the lock file, after an install checked complete', () => {
    expect(stages[0]).toMatch(/^RUN npm ci [^\n]*&& npm ls\b/m);
    // `npm ls` fails on a workspace the lock file names whose manifest the build lacks.
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, unknown> };
    const workspaces = Object.keys(lock.packages).filter((path) => /^packages\/[^/]+$/.test(path));
    for (const workspace of workspaces) {
      expect(stages[0], workspace).toContain(`COPY ${workspace}/package.json ${workspace}/`);
    }
    expect(dockerfile).not.toMatch(/^RUN .*\bnpx\b/m);
    expect(stages[0]).toMatch(/^RUN node_modules\/\.bin\/tsc -b packages\/app$/m);
  });

  it('keeps node_modules and local data out of the build context', () => {
    const ignored = read('.dockerignore').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', '.data', '.git']));
  });
});

describe('npm run test:compose (scripts/compose-test.sh)', () => {
  it('runs in CI after npm test', () => {
    // Each part of .ci/run is a line `part "NAME" COMMAND…`.
    const steps = read('.ci/run')
      .split('\n')
      .flatMap((line) => /^part "[^"]+" (npm (?:test|run test:compose))$/.exec(line)?.[1] ?? []);
    expect(steps).toEqual(['npm test', 'npm run test:compose']);
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(pkg.scripts['test:compose']).toBe('bash scripts/compose-test.sh');
    expect(pkg.scripts.test).not.toMatch(/compose|docker/);
  });

  it('builds stand-ins under exactly the base image names the Dockerfile and the compose file use', () => {
    const used = new Set([
      ...[...read('Dockerfile').matchAll(/^FROM (\S+)/gm)].map((match) => match[1]),
      ...Object.values(services).flatMap((service) => service.image ?? []),
    ]);
    used.delete('cachelab-app');
    const built = [...read('docker/stand-ins/build.sh').matchAll(/^build \w+ (\S+)/gm)].map(
      (match) => match[1],
    );
    expect(built.sort()).toEqual([...used].sort());
  });

  it('ships a Docker CLI plugin that answers the metadata request and forwards to docker-compose', async () => {
    const plugin = join(ROOT, 'docker/cli-plugins/docker-compose');
    accessSync(plugin, constants.X_OK);
    const { stdout } = await promisify(execFile)(plugin, ['docker-cli-plugin-metadata']);
    expect(JSON.parse(stdout)).toMatchObject({ SchemaVersion: '0.1.0' });
    expect(read('docker/cli-plugins/docker-compose')).toMatch(
      /^shift\nexec docker-compose "\$@"$/m,
    );
  });
});
