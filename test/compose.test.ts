import { execFile } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join, posix } from 'node:path';
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
  restart?: string;
  image?: string;
  build?: string | { context: string; dockerfile: string };
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

  it('runs, in the languages profile, a Python and a Go instance on the stack of the Node ones', () => {
    const profile = Object.keys(services).filter((name) =>
      services[name]?.profiles?.includes('languages'),
    );
    expect(profile.sort()).toEqual(['app-go', 'app-python']);
    const node = services['app-1'];
    for (const [name, port, image, build] of [
      [
        'app-python',
        3004,
        'cachelab-python',
        { context: '.', dockerfile: 'languages/python/Dockerfile' },
      ],
      [
        'app-go',
        3005,
        'cachelab-go',
        { context: 'languages/go', dockerfile: 'instance/Dockerfile' },
      ],
    ] as const) {
      const service = services[name];
      expect(service?.image, name).toBe(image);
      expect(service?.build, name).toEqual(build);
      expect(service?.depends_on, name).toEqual(node?.depends_on);
      expect(service?.restart, name).toBe(node?.restart);
      // The Node instances' environment (Redis, PostgreSQL, latency, seed, strategy), its own port
      // and name.
      const { PORT, INSTANCE_NAME, ...shared } = service?.environment ?? {};
      const { PORT: _port, INSTANCE_NAME: _name, ...nodeShared } = node?.environment ?? {};
      expect(shared, name).toEqual(nodeShared);
      expect([PORT, INSTANCE_NAME], name).toEqual([String(port), name]);
      const variable = `APP_${name.slice(4).toUpperCase()}_HOST_PORT`;
      expect(service?.ports, name).toEqual([`127.0.0.1:\${${variable}:-${port}}:${port}`]);
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

/** The stages of a Dockerfile: the text from each `FROM` to the next. */
const stagesOf = (dockerfile: string) => dockerfile.split(/^FROM /m).slice(1);
/** `FROM image AS name` lines: the images only (never an earlier stage's name, nor scratch). */
function baseImages(dockerfile: string): string[] {
  const stages = new Set<string>(['scratch']);
  const images: string[] = [];
  for (const [, image, name] of dockerfile.matchAll(/^FROM (\S+)(?: AS (\S+))?/gm)) {
    if (!stages.has(image as string)) images.push(image as string);
    if (name) stages.add(name);
  }
  return images;
}
/** The paths a `.dockerignore` leaves out (comments and blank lines dropped). */
const ignoredBy = (path: string) =>
  read(path)
    .split('\n')
    .filter((line) => line.trim() && !line.startsWith('#'));

describe('the Python instance image (languages/python/Dockerfile, from the repository root)', () => {
  const dockerfile = read('languages/python/Dockerfile');
  const [build = '', runtime = ''] = stagesOf(dockerfile);
  const pyproject = read('languages/python/pyproject.toml');
  const service = services['app-python'];

  it('builds in two stages from the Python that pyproject.toml requires', () => {
    expect(stagesOf(dockerfile)).toHaveLength(2);
    const required = /^requires-python = ">=(\d+\.\d+)"$/m.exec(pyproject)?.[1];
    expect(required).toBeDefined();
    for (const stage of stagesOf(dockerfile)) {
      expect(stage).toMatch(
        new RegExp(`^python:${required?.replace('.', '\\.')}-slim-bookworm AS \\w+`),
      );
    }
  });

  it('copies what the wheel is built from: pyproject.toml, its readme, the sources and the Lua scripts', () => {
    const copies = [...build.matchAll(/^COPY (\S+) (\S+)$/gm)].map(([, from, to]) => ({
      from,
      to,
    }));
    const copied = (path: string) =>
      copies.some(
        ({ from, to }) =>
          path === from ||
          path.startsWith(`${from}/`) ||
          (to?.endsWith('/') && posix.join(to, posix.basename(from as string)) === path),
      );
    const readme = /^readme = "([^"]+)"$/m.exec(pyproject)?.[1] as string;
    expect(readme).toBeDefined();
    for (const path of ['pyproject.toml', readme])
      expect(copied(`languages/python/${path}`), path).toBe(true);
    const packages = /^packages = \[([^\]]+)\]$/m.exec(pyproject)?.[1]?.match(/"[^"]+"/g) ?? [];
    expect(packages.length).toBeGreaterThan(0);
    for (const pkg of packages) {
      expect(copied(posix.join('languages/python', pkg.slice(1, -1))), pkg).toBe(true);
    }
    // force-include takes files from outside languages/python (../../protocol/scripts): they
    // must sit at the same place relative to it in the build stage as in the repository.
    const section = pyproject.split('.force-include]')[1]?.split(/^\[/m)[0] ?? '';
    const forced = section.match(/^"([^"]+)" = /gm) ?? [];
    expect(forced.length).toBeGreaterThan(0);
    for (const entry of forced) {
      const path = posix.normalize(
        posix.join('languages/python', entry.slice(1, entry.indexOf('" ='))),
      );
      expect(copies, path).toContainEqual({ from: path, to: path });
      expect(path.startsWith('languages/python/') || readdirSync(join(ROOT, path)).length > 0).toBe(
        true,
      );
    }
    // The dependencies of the layer before the sources: the package's own and the instance's.
    expect(build).toContain("p['dependencies'] + p['optional-dependencies']['instance']");
    expect(pyproject).toMatch(/^\[project\.optional-dependencies\][^[]*^instance = \[/m);
    expect(build).toMatch(/^RUN pip install --no-deps \.\/languages\/python /m);
  });

  it('leaves none of it out of the build context, and leaves out virtual environments and caches', () => {
    const ignored = ignoredBy('.dockerignore');
    for (const path of [
      'protocol',
      'languages',
      'languages/python',
      'languages/python/src',
      'protocol/scripts',
    ]) {
      expect(ignored, path).not.toContain(path);
    }
    expect(ignored).toEqual(expect.arrayContaining(['**/.venv', '**/__pycache__']));
  });

  it('runs the virtual environment alone, as an unprivileged user, with a healthcheck on /readyz', () => {
    expect(runtime).toMatch(/^COPY --from=build \/opt\/venv \/opt\/venv$/m);
    expect([...runtime.matchAll(/^COPY /gm)]).toHaveLength(1);
    expect(runtime).toMatch(/^USER (?!root\b|0\b)\w+$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*\n?.*CMD \["python", "-c", ".*\/readyz/m);
    const script = /^cachelab-instance = "([\w.]+):(\w+)"$/m.exec(pyproject);
    expect(script).not.toBeNull();
    expect(runtime).toMatch(/^CMD \["cachelab-instance"\]$/m);
  });

  it('listens on the port docker-compose.yml gives it', () => {
    const port = service?.environment?.PORT;
    expect(/^EXPOSE (\d+)$/m.exec(runtime)?.[1]).toBe(port);
    expect(/^ENV .*\bPORT=(\d+)/m.exec(runtime)?.[1]).toBe(port);
    expect(/^ENV .*\bHOST=0\.0\.0\.0/m.test(runtime)).toBe(true);
  });
});

describe('the Go instance image (languages/go/instance/Dockerfile, from languages/go)', () => {
  const dockerfile = read('languages/go/instance/Dockerfile');
  const [build = '', runtime = ''] = stagesOf(dockerfile);
  const goMod = read('languages/go/instance/go.mod');
  const service = services['app-go'];

  it('builds with the Go its modules name, into scratch', () => {
    for (const mod of ['languages/go/go.mod', 'languages/go/instance/go.mod']) {
      const [, minor] = /^go (\d+\.\d+)(?:\.\d+)?$/m.exec(read(mod)) ?? [];
      expect(build, mod).toMatch(
        new RegExp(`^golang:${minor?.replace('.', '\\.')}-bookworm AS build`),
      );
    }
    expect(runtime).toMatch(/^scratch AS \w+/);
  });

  it('has in its context the module the instance replaces, and copies both go.mod and go.sum before the download', () => {
    const target = /^replace github\.com\/cachelab\/cachelab\/languages\/go => (\S+)$/m.exec(
      goMod,
    )?.[1];
    expect(target).toBe('..');
    const context = posix.normalize(posix.join('languages/go/instance', target as string));
    expect(service?.build).toEqual({ context, dockerfile: 'instance/Dockerfile' });
    const download = build.indexOf('RUN go mod download');
    expect(download).toBeGreaterThan(0);
    const before = build.slice(0, download);
    expect(before).toMatch(/^COPY go\.mod go\.sum \.\/$/m);
    expect(before).toMatch(/^COPY instance\/go\.mod instance\/go\.sum instance\/$/m);
    expect(build.slice(download)).toMatch(/^COPY \. \/src$/m);
    const ignored = ignoredBy('languages/go/.dockerignore');
    for (const pattern of ignored) expect(pattern).not.toMatch(/\.go$|go\.(mod|sum)|^\*\*?$/);
  });

  it('compiles ahead exactly the packages the instance and the library import from other modules', () => {
    const listed = /^RUN go build -trimpath ((?:[^\n]*\\\n)*[^\n]*)$/m
      .exec(build)?.[1]
      ?.split(/[\s\\]+/)
      .filter(Boolean);
    expect(listed?.length).toBeGreaterThan(0);
    const sources = (dir: string): string[] =>
      readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory()
          ? sources(join(dir, entry.name))
          : entry.name.endsWith('.go') && !entry.name.endsWith('_test.go')
            ? [join(dir, entry.name)]
            : [],
      );
    const imports = new Set(
      [...sources('languages/go/cachelab'), ...sources('languages/go/instance')]
        .filter((file) => !file.includes('/internal/pgtest/'))
        .flatMap((file) => [
          ...read(file).matchAll(/^\s*(?:\w+ )?"([a-z0-9-]+\.[a-z]+\/[^"]+)"$/gm),
        ])
        .map((match) => match[1] as string)
        .filter((path) => !path.startsWith('github.com/cachelab/')),
    );
    expect(imports.size).toBeGreaterThan(3);
    expect(listed?.sort()).toEqual([...imports].sort());
  });

  it('builds the instance and its healthcheck as static binaries, and runs them as a numeric non-root user', () => {
    expect(build).toMatch(/^ENV CGO_ENABLED=0$/m);
    expect(build).toMatch(
      /^RUN go build .*-o \/out\/ \.\/cmd\/cachelab-instance \.\/cmd\/cachelab-healthcheck$/m,
    );
    for (const cmd of ['cachelab-instance', 'cachelab-healthcheck']) {
      accessSync(join(ROOT, 'languages/go/instance/cmd', cmd, 'main.go'));
    }
    expect(runtime).toMatch(/^COPY --from=build \/out\/ \/usr\/local\/bin\/$/m);
    expect(runtime).toMatch(/^COPY --from=build \/etc\/ssl\/certs\/ca-certificates\.crt /m);
    expect(runtime).toMatch(/^USER [1-9]\d*:[1-9]\d*$/m);
    expect(runtime).toMatch(
      /^HEALTHCHECK .*\n?.*CMD \["\/usr\/local\/bin\/cachelab-healthcheck"\]/m,
    );
    expect(runtime).toMatch(/^ENTRYPOINT \["\/usr\/local\/bin\/cachelab-instance"\]$/m);
  });

  it('listens on the port docker-compose.yml gives it', () => {
    const port = service?.environment?.PORT;
    expect(/^EXPOSE (\d+)$/m.exec(runtime)?.[1]).toBe(port);
    expect(/^ENV .*\bPORT=(\d+)/m.exec(runtime)?.[1]).toBe(port);
    expect(/^ENV .*\bHOST=0\.0\.0\.0/m.test(runtime)).toBe(true);
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

  it('builds stand-ins under exactly the base image names the Dockerfiles and the compose file use', () => {
    const used = new Set([
      ...['Dockerfile', 'languages/python/Dockerfile', 'languages/go/instance/Dockerfile'].flatMap(
        (path) => baseImages(read(path)),
      ),
      ...Object.values(services).flatMap((service) => service.image ?? []),
    ]);
    for (const built of ['cachelab-app', 'cachelab-python', 'cachelab-go']) used.delete(built);
    const built = [...read('docker/stand-ins/build.sh').matchAll(/^build \w+ (\S+)/gm)].map(
      (match) => match[1],
    );
    expect(built.sort()).toEqual([...used].sort());
    // With a registry, the test pulls the same images.
    const pulled = /^base_images=\(([^)]*)\)$/m
      .exec(read('scripts/compose-test.sh'))?.[1]
      ?.split(' ');
    expect(pulled?.sort()).toEqual([...used].sort());
  });

  it('builds the three images and checks the stack with the languages profile', () => {
    const script = read('scripts/compose-test.sh');
    for (const service of ['app-1', 'app-python', 'app-go']) {
      expect(script).toMatch(new RegExp(`^build_image ${service} `, 'm'));
    }
    expect(script).toContain('docker compose --profile languages build "$service"');
    expect(script).toContain('--profile cluster --profile languages down -v');
    for (const name of Object.values(services).flatMap((service) => service.ports ?? [])) {
      const variable = PUBLISHED.exec(name)?.[1] as string;
      expect(script, variable).toContain(variable);
    }
    expect(read('scripts/compose/check-stack.ts')).toContain(
      "const profile = ['--profile', 'languages'];",
    );
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
