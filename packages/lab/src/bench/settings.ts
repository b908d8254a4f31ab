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
  outbox: {
    instances: number;
    /** Single-row UPDATEs straight in the database per staleness row. */
    writes: number;
    /** Rows of the bulk UPDATE (at most `seedUsers` on the embedded database). */
    bulkRows: number;
    /** `OUTBOX_BATCH_SIZE` of the instances. */
    batchSize: number;
    writeSeconds: number;
    /** Rounds of the write-cost comparison; each runs both modes, in alternating order. */
    writeRounds: number;
    writeConnections: number;
  };
  /** Invalidations of one key whose cluster-bus Pub/Sub traffic is counted, per flavour. */
  cluster: { trafficWrites: number };
  /**
   * Every language's harnesses: L1 hits per run and runs; writes per propagation pair and of the
   * client library's own cache.
   */
  languages: { iterations: number; runs: number; writes: number };
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
  outbox: {
    instances: 3,
    writes: 200,
    bulkRows: 10_000,
    batchSize: 500,
    writeSeconds: 4,
    writeRounds: 4,
    writeConnections: 12,
  },
  cluster: { trafficWrites: 1000 },
  languages: { iterations: 200_000, runs: 7, writes: 200 },
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
  outbox: {
    instances: 2,
    writes: 10,
    bulkRows: 300,
    batchSize: 500,
    writeSeconds: 0.5,
    writeRounds: 1,
    writeConnections: 4,
  },
  cluster: { trafficWrites: 20 },
  languages: { iterations: 2_000, runs: 2, writes: 10 },
};
