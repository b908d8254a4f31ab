/** Every knob of one benchmark run; the whole object is written into the results. */
export interface BenchSettings {
  mode: 'full' | 'quick';
  /** Users 1…N in the database (the Zipf keyspace and the ids misses cycle through). */
  seedUsers: number;
  l1: { iterations: number; runs: number };
  http: {
    connections: number;
    durationSeconds: number;
    warmupSeconds: number;
    /** Rounds; each round measures every target once, so noise hits all of them alike. */
    rounds: number;
    /** Simulated database latency of the slow miss and no-cache rows (the default of the app). */
    slowDbLatencyMs: number;
  };
  propagation: { writes: number; userBytes: number };
  storms: {
    instances: number;
    /** Concurrent reads of the hot key, spread over the instances. */
    reads: number;
    dbLatencyMs: number;
    zipfRequests: number;
    zipfExponent: number;
    zipfConnections: number;
    zipfSeed: number;
  };
  memory: { entries: number; userBytes: number; instanceEntries: number };
  /** Invalidations of one key whose cluster-bus Pub/Sub traffic is counted, per flavour. */
  cluster: { trafficWrites: number };
}

/** The full run: bounded to a few minutes on 2 cores. */
export const FULL: BenchSettings = {
  mode: 'full',
  seedUsers: 100_000,
  l1: { iterations: 1_000_000, runs: 7 },
  http: {
    connections: 10,
    durationSeconds: 4,
    warmupSeconds: 1,
    rounds: 5,
    slowDbLatencyMs: 50,
  },
  propagation: { writes: 1000, userBytes: 200 },
  storms: {
    instances: 3,
    reads: 500,
    dbLatencyMs: 50,
    zipfRequests: 30_000,
    zipfExponent: 0.99,
    zipfConnections: 24,
    zipfSeed: 7,
  },
  memory: { entries: 10_000, userBytes: 200, instanceEntries: 10_000 },
  cluster: { trafficWrites: 1000 },
};

/** `--quick`: only proves that every section runs end to end; the numbers mean nothing. */
export const QUICK: BenchSettings = {
  mode: 'quick',
  seedUsers: 2_000,
  l1: { iterations: 2_000, runs: 2 },
  http: { connections: 2, durationSeconds: 0.5, warmupSeconds: 0, rounds: 1, slowDbLatencyMs: 5 },
  propagation: { writes: 20, userBytes: 200 },
  storms: {
    instances: 2,
    reads: 30,
    dbLatencyMs: 20,
    zipfRequests: 300,
    zipfExponent: 0.99,
    zipfConnections: 6,
    zipfSeed: 7,
  },
  memory: { entries: 500, userBytes: 200, instanceEntries: 300 },
  cluster: { trafficWrites: 20 },
};
