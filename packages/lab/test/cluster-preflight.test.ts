import { once } from 'node:events';
import { connect, createServer, type Server } from 'node:net';
import { readConfig } from '@cachelab/app';
import { clusterPorts, readClusterConfig } from '@cachelab/lab/cluster/config.ts';
import { ephemeralPorts, takenPorts } from '@cachelab/lab/cluster/preflight.ts';
import { ephemeralPortRange, freePort } from '@cachelab/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

async function occupy(port: number): Promise<void> {
  const server = createServer().listen(port, '127.0.0.1');
  servers.push(server);
  await once(server, 'listening');
}

/** The value each line suggests for `setting`. */
function suggested(lines: string[], setting: string): number[] {
  return lines.map((line) => Number(line.match(new RegExp(`e\\.g\\. ${setting}=(\\d+)`))?.[1]));
}

describe('the port preflight of npm start', () => {
  it('suggests one BASE_PORT for every taken instance port, and it moves them all clear', async () => {
    const base = await freePort();
    const config = readClusterConfig({ INSTANCES: '3', BASE_PORT: String(base) });
    await occupy(base);
    await occupy(base + 2);
    const lines = await takenPorts(clusterPorts(config).filter((p) => p.setting === 'BASE_PORT'));
    expect(lines).toHaveLength(2);
    const [first, second] = suggested(lines, 'BASE_PORT');
    expect(first).toBe(second);
    // The suggested instances' ports overlap none of the taken ones.
    for (let i = 0; i < 3; i++) expect([base, base + 2]).not.toContain((first as number) + i);
  });

  it('moves a group of Redis Cluster nodes by more than the group, below the highest node port', async () => {
    const config = readClusterConfig({ REDIS_CLUSTER: '1', REDIS_PORT: '55500' });
    const nodes = clusterPorts(config).filter((p) => p.setting === 'REDIS_PORT');
    const port = nodes[1]?.port as number;
    await occupy(port);
    const [value] = suggested(await takenPorts(nodes), 'REDIS_PORT');
    // Six nodes from the suggestion stay at or below 55535 and clear of the taken port.
    expect(value).toBeLessThanOrEqual(55_530);
    expect(Math.abs((value as number) - port)).toBeGreaterThan(6);
  });

  it.each([
    ['BASE_PORT', { INSTANCES: '3', BASE_PORT: '65533' }, 65_535],
    ['REDIS_PORT', { REDIS_PORT: '65530' }, 65_530],
  ])(
    'suggests a %s that npm start accepts when the taken port is at the top of the range',
    async (setting, env, port) => {
      const config = readClusterConfig(env);
      await occupy(port);
      const lines = await takenPorts(clusterPorts(config).filter((p) => p.setting === setting));
      const [value] = suggested(lines, setting);
      expect(() => readClusterConfig({ ...env, [setting]: String(value) })).not.toThrow();
    },
  );
});

describe('npm start and the ports the kernel lends out', () => {
  it('listens by default only on ports outside the ephemeral range this machine reports', () => {
    const [low, high] = ephemeralPortRange();
    for (const env of [{}, { REDIS_CLUSTER: '1' }]) {
      const ports = clusterPorts(readClusterConfig(env));
      expect(ports.filter(({ port }) => port >= low && port <= high)).toEqual([]);
      expect(ephemeralPorts(ports)).toEqual([]);
    }
  });

  it('tells a port held by an open connection from one a process listens on', async () => {
    const port = await freePort();
    await occupy(port);
    const client = connect({ host: '127.0.0.1', port });
    await once(client, 'connect');
    try {
      // The client's local port: bound by the kernel for the connection, listened on by nobody.
      const lent = client.localPort as number;
      const lines = await takenPorts([
        { port: lent, user: 'the embedded database', setting: 'DB_PORT' },
        { port, user: 'redis-server', setting: 'REDIS_PORT' },
      ]);
      expect(lines[0]).toContain(
        `port ${lent} (the embedded database) is held by an open connection, not a listener (the kernel lent it as a connection's local port, as it lies in the kernel's ephemeral range`,
      );
      expect(lines[1]).toContain(
        `port ${port} (redis-server) is already in use: stop what listens there`,
      );
      expect(ephemeralPorts([{ port: lent, user: 'x', setting: 'DB_PORT' }])[0]).toContain(
        "lies in the kernel's ephemeral range",
      );
    } finally {
      client.destroy();
    }
  });
});

describe('the settings npm start passes on to the instances', () => {
  it('are refused by npm start as an instance refuses them, naming the variable', () => {
    const refused = (env: Record<string, string>) => {
      expect(() => readConfig(env)).toThrow();
      try {
        readClusterConfig(env);
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error(`npm start accepted ${JSON.stringify(env)}`);
    };
    expect(refused({ DB_LATENCY_MS: '60001' })).toBe(
      'DB_LATENCY_MS must be an integer from 0 to 60000, got "60001"',
    );
    expect(refused({ SEED_USERS: 'many' })).toMatch(/^SEED_USERS must be an integer/);
    expect(refused({ CACHE_NAMESPACE: 'a:b' })).toBe(
      'CACHE_NAMESPACE must be 1-32 characters of [A-Za-z0-9_.-], got "a:b"',
    );
    expect(refused({ REDIS_URL: 'http://:secret@x' })).toBe(
      'REDIS_URL must be a redis:// or rediss:// URL',
    );
    expect(refused({ DATABASE_URL: 'mysql://x' })).toBe(
      'DATABASE_URL must be a postgres:// or postgresql:// URL',
    );
    expect(refused({ REDIS_CLUSTER_NODES: '127.0.0.1:7000,localhost' })).toMatch(
      /^REDIS_CLUSTER_NODES must be a comma-separated list of host:port, got "localhost"/,
    );
  });

  it("take the instance's defaults, but no Redis or database URL (npm start runs its own)", () => {
    const config = readClusterConfig({});
    const instance = readConfig({});
    expect(config.dbLatencyMs).toBe(instance.dbLatencyMs);
    expect(config.seedUsers).toBe(instance.seedUsers);
    expect(config.namespace).toBe(instance.cacheNamespace);
    expect(config.redis.kind).toBe('own');
    expect(config.databaseUrl).toBeUndefined();
    const nodes = readClusterConfig({ REDIS_CLUSTER_NODES: ' [::1]:7000, 127.0.0.1:7001 ' });
    expect(nodes.redis).toMatchObject({
      url: 'redis://[::1]:7000',
      clusterNodes: ['[::1]:7000', '127.0.0.1:7001'],
    });
  });
});
