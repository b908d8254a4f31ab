/**
 * Origins whose last `cseq` a receiver keeps per channel; past it the least recently heard is
 * forgotten (a flood of made-up origins cannot grow the table; a forgotten origin's next message
 * is heard as a gap, as an unknown sender's first one numbered above 0 is).
 */
export const MAX_ORIGINS_PER_CHANNEL = 1024;

/** The last `cseq` heard from each sender on one shard channel (MUST-TRUST-8). */
export interface SenderSequences {
  /**
   * Records that `sender` sent a message numbered `cseq`; false when that number shows a message
   * of this channel was lost.
   */
  follows(sender: string, cseq: number): boolean;
}

/**
 * A sender's first message heard on the channel must be its first sent (0): a later one means
 * this subscriber missed some before it heard any (say a reader that subscribed, was paused before
 * the sender's next heartbeat, and lost the announcement while its channel's slot moved), and
 * which were sent since it subscribed is unknown. So a subscriber hears every running sender once
 * as a gap when it starts, and every sender it forgot (past `maxSenders`). A 0 after higher
 * numbers is the sender restarted under the same origin: counted from there. Any other lower
 * number (a resend, a reordering, a replay) is no gap and leaves the count where it was.
 */
export function createSenderSequences(maxSenders = MAX_ORIGINS_PER_CHANNEL): SenderSequences {
  // Least recently heard first: a Map iterates in insertion order.
  const last = new Map<string, number>();
  return {
    follows(sender, cseq) {
      const previous = last.get(sender);
      last.delete(sender);
      last.set(sender, cseq === 0 ? 0 : Math.max(previous ?? cseq, cseq));
      if (last.size > maxSenders) last.delete(last.keys().next().value as string);
      return previous === undefined ? cseq === 0 : cseq <= previous + 1;
    },
  };
}
