package cachelab

import "container/list"

// maxOriginsPerChannel is how many senders' last cseq a receiver keeps per channel; past it the
// least recently heard is forgotten (a flood of made-up origins cannot grow the table, and a
// forgotten sender's next message is heard as a gap, as an unknown sender's first above 0 is).
const maxOriginsPerChannel = 1024

// senderSequences is the last cseq heard from each sender on one channel (MUST-TRUST-8),
// least recently heard at the back. Not safe for concurrent use: the bus's lock guards it.
type senderSequences struct {
	order  *list.List // of *heardFrom, most recent first
	origin map[string]*list.Element
	limit  int
}

type heardFrom struct {
	origin string
	cseq   int64
}

func newSenderSequences(limit int) *senderSequences {
	return &senderSequences{order: list.New(), origin: map[string]*list.Element{}, limit: limit}
}

// follows records cseq from sender and reports whether it follows the last one heard from
// it without a gap. A sender's first message heard must be its first sent (0): a later one
// means this receiver missed some before it heard any, and which were sent since it subscribed
// is unknown. A 0 after higher numbers is the sender restarted under the same origin, counted
// from there; any other lower number (a resend, a reordering, a replay) is no gap and leaves
// the count where it was.
func (s *senderSequences) follows(sender string, cseq int64) bool {
	e, known := s.origin[sender]
	if !known {
		e = s.order.PushFront(&heardFrom{origin: sender, cseq: cseq})
		s.origin[sender] = e
		if s.order.Len() > s.limit {
			oldest := s.order.Back()
			s.order.Remove(oldest)
			delete(s.origin, oldest.Value.(*heardFrom).origin)
		}
		return cseq == 0
	}
	s.order.MoveToFront(e)
	h := e.Value.(*heardFrom)
	last := h.cseq
	if cseq == 0 {
		h.cseq = 0
	} else {
		h.cseq = max(last, cseq)
	}
	return cseq <= last+1
}

// len is how many senders are remembered.
func (s *senderSequences) len() int { return s.order.Len() }
