/**
 * Heap bytes per L1 entry, in a process started with `--expose-gc`: the heap after a full GC with
 * `entries` users of about `userBytes` of JSON each held in an L1 store, minus the heap before;
 * next to the same users held in a plain array, so that what L1 adds per entry shows.
 *
 * The L1 store is filled directly (the very `set` a read's fill calls) rather than through
 * `getOrLoad`: that path also leaves Redis-client buffers and optimised code on the heap, which
 * made the delta swing between 540 and 1,240 bytes per entry for different N, none of it per entry.
 */
import { createL1Store } from '../../../../cache/src/local/l1-store.ts';

const input = JSON.parse(process.argv[2] ?? '{}') as { entries: number; userBytes: number };
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc?.();
  return process.memoryUsage().heapUsed;
}

/** A fresh user object (parsed from JSON, like a row a loader read) of about `userBytes`. */
function user(i: number): unknown {
  const body = {
    id: String(i),
    name: `User ${i}`,
    email: `user${i}@example.com`,
    age: 18 + (i % 60),
    version: 1,
    updatedAt: new Date(1_700_000_000_000 + i).toISOString(),
    bio: '',
  };
  body.bio = 'x'.repeat(Math.max(0, input.userBytes - JSON.stringify(body).length));
  return JSON.parse(JSON.stringify(body));
}

const { entries } = input;
const empty = heapAfterGc();
const held = Array.from({ length: entries }, (_, i) => user(i + 1));
const withUsers = heapAfterGc();
held.length = 0;

const before = heapAfterGc();
const l1 = createL1Store<unknown>(entries, 60_000);
for (let i = 1; i <= entries; i++) l1.set(`user:${i}`, { value: user(i), version: 1 });
const after = heapAfterGc();
if (l1.size !== entries) throw new Error(`L1 holds ${l1.size} entries, not ${entries}`);
console.log(
  JSON.stringify({
    entries,
    userJsonBytes: JSON.stringify(user(1)).length,
    bytesPerUserObject: (withUsers - empty) / entries,
    bytesPerL1Entry: (after - before) / entries,
  }),
);
