export { startDatabaseServer, type TestDatabaseServer } from './database-server.ts';
export { type InstanceProcess, type StartInstanceOptions, startInstance } from './instance.ts';
export { uniqueName } from './names.ts';
export {
  canBind,
  ephemeralPortRange,
  freeClusterNodePort,
  freePort,
  NOTHING_LISTENS_URL,
} from './net.ts';
export { pgbouncerBinary, startPgBouncer, type TestPgBouncer } from './pgbouncer.ts';
export {
  postgresBinaries,
  startPostgresServer,
  type TestPostgresServer,
} from './postgres-server.ts';
export { runNodeScript, type ScriptRun, signalProcess } from './process.ts';
export {
  type ClusterNode,
  type SlotMigration,
  startRedisCluster,
  type TestRedisCluster,
} from './redis-cluster.ts';
export { startRedisServer, type TestRedisServer, type TlsFiles } from './redis-server.ts';
export { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';
export { type WaitOptions, waitFor } from './wait.ts';
