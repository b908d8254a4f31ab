import './context.ts';

export { startDatabaseServer, type TestDatabaseServer } from './database-server.ts';
export { createHttpClient, type HttpClient, runLoops, type Timed } from './http.ts';
export { type InstanceProcess, startInstance } from './instance.ts';
export { freePort, NOTHING_LISTENS_URL } from './net.ts';
export {
  type PromFamily,
  type PromSample,
  parsePrometheusText,
  sampleValue,
} from './prometheus.ts';
export { startRedisServer, type TestRedisServer } from './redis-server.ts';
export { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';
export { type WaitOptions, waitFor } from './wait.ts';
