import type { Scenario } from '../scenario.ts';
import { minVersion, strict } from './consistency.ts';
import { redisRestart, scriptFlush, snapshotRestore, subscriberKilled } from './faults.ts';
import { channelSequence, clear, hostileMessages, replay, unsignedChannel } from './messages.ts';
import { propagation } from './propagation.ts';
import { announce, deletion, olderWrite, staleFill, writeRead } from './reads-and-writes.ts';

/** Every scenario, in the order they run (the faults last: they disturb every instance). */
export function scenarios(options: { writes: number }): Scenario[] {
  return [
    writeRead,
    deletion,
    olderWrite,
    staleFill,
    announce,
    strict,
    minVersion,
    hostileMessages,
    replay,
    clear,
    channelSequence,
    propagation(options.writes),
    scriptFlush,
    subscriberKilled,
    redisRestart,
    snapshotRestore,
    unsignedChannel,
  ];
}
