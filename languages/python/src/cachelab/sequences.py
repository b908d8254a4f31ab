"""The last channel sequence number (``cseq``) heard from each sender on one shard channel
(SPEC MUST-TRUST-8), as Node's ``bus/sender-sequences.ts``; pure logic."""

from __future__ import annotations

from collections import OrderedDict

#: Origins whose last ``cseq`` a receiver keeps per channel; past it the least recently heard is
#: forgotten (a flood of made-up origins cannot grow the table; a forgotten origin's next message
#: is heard as a gap, as an unknown sender's first one numbered above 0 is).
MAX_ORIGINS_PER_CHANNEL = 1024


class SenderSequences:
    """The senders of one channel, least recently heard first.

    A sender's first message heard on the channel must be its first sent (0): a later one means
    this subscriber missed some before it heard any, and which were sent since it subscribed is
    unknown. So a subscriber hears every running sender once as a gap when it starts, and every
    sender it forgot (past ``max_senders``). A 0 after higher numbers is the sender restarted
    under the same origin: counted from there. Any other lower number (a resend, a reordering, a
    replay) is no gap and leaves the count where it was.
    """

    def __init__(self, max_senders: int = MAX_ORIGINS_PER_CHANNEL) -> None:
        self._max_senders = max_senders
        self._last: OrderedDict[str, int] = OrderedDict()

    def follows(self, sender: str, cseq: int) -> bool:
        """Records that ``sender`` sent a message numbered ``cseq``; False when that number
        shows that a message of this channel was lost."""
        previous = self._last.pop(sender, None)
        self._last[sender] = 0 if cseq == 0 else max(cseq if previous is None else previous, cseq)
        if len(self._last) > self._max_senders:
            self._last.popitem(last=False)
        return cseq == 0 if previous is None else cseq <= previous + 1

    def __len__(self) -> int:
        return len(self._last)
