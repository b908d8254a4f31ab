// Package message encodes, signs, verifies and decodes what travels on the invalidation channel
// (SPEC §5): invalidations and heartbeats, as JSON, optionally behind an HMAC-SHA256.
package message

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"strconv"

	"github.com/cachelab/cachelab/languages/go/cachelab/keys"
)

// Type tells an invalidation from a heartbeat and a clear.
type Type string

// The message types.
const (
	TypeInvalidation Type = "inv"
	TypeHeartbeat    Type = "hb"
	// TypeClear: the sender cleared the namespace (SPEC §5.8, MUST-CLEAR-1).
	TypeClear Type = "clr"
)

// MaxSafeInteger is the largest version, seq and cseq a message may carry (2^53−1, MUST-MSG-4).
const MaxSafeInteger = 1<<53 - 1

// MaxLength is the longest unsigned message, in UTF-16 code units (MUST-MSG-3).
const MaxLength = 2*keys.MaxKeyLength + 1024

// MaxSignedLength is the longest signed message: the MAC and its dot in front.
const MaxSignedLength = MaxLength + macPrefixLength

// Message is an invalidation (key now has version), a heartbeat or a clear. Key and Version are
// empty in a heartbeat and a clear.
type Message struct {
	Type    Type
	Key     string
	Version int64
	Origin  string
	Seq     int64
	TS      float64 // the sender's wall clock, ms since the epoch, fractions allowed
	// Cseq, with sharded Pub/Sub only (HasCseq), is how many messages the sender published on
	// the channel this one travels on before it (MUST-MSG-8): a receiver that sees it skip a
	// number lost a message there.
	Cseq    int64
	HasCseq bool
}

// Reason says why a received message was dropped.
type Reason string

// The reasons of MUST-MSG-5, counted by receivers.
const (
	Malformed Reason = "malformed"
	Unsigned  Reason = "unsigned"
	Forged    Reason = "forged"
)

var originPattern = regexp.MustCompile(`^[A-Za-z0-9_.:/-]{1,64}$`)

// ValidOrigin reports whether origin can name an instance (MUST-MSG-1).
func ValidOrigin(origin string) bool { return originPattern.MatchString(origin) }

// MarshalJSON writes the fields in the order Node.js writes them, without spaces.
func (m Message) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"type":`)
	writeString(&b, string(m.Type))
	if m.Type == TypeInvalidation {
		b.WriteString(`,"key":`)
		writeString(&b, m.Key)
		b.WriteString(`,"version":`)
		b.WriteString(strconv.FormatInt(m.Version, 10))
	}
	b.WriteString(`,"origin":`)
	writeString(&b, m.Origin)
	b.WriteString(`,"seq":`)
	b.WriteString(strconv.FormatInt(m.Seq, 10))
	b.WriteString(`,"ts":`)
	b.WriteString(formatNumber(m.TS))
	if m.HasCseq {
		b.WriteString(`,"cseq":`)
		b.WriteString(strconv.FormatInt(m.Cseq, 10))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func writeString(b *bytes.Buffer, s string) {
	// encoding/json escapes <, > and & as \u003c…; JSON.stringify does not. Both are valid
	// JSON; without the HTML escaping the bytes match Node's.
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	b.Truncate(b.Len() - 1) // Encode's newline
}

// formatNumber writes a finite float as JavaScript's Number.prototype.toString does for the
// values a timestamp takes (no exponent below 1e21).
func formatNumber(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "0"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// Decode parses and validates an unsigned message (MUST-MSG-2, -3, -4). Unknown fields are
// ignored; field names are matched exactly (encoding/json alone would also take "Key").
func Decode(raw string) (Message, bool) {
	if keys.UTF16Len(raw) > MaxLength {
		return Message{}, false
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &fields); err != nil || fields == nil {
		return Message{}, false
	}
	var m Message
	var typ, origin string
	if !stringField(fields, "type", &typ) || !stringField(fields, "origin", &origin) ||
		!ValidOrigin(origin) {
		return Message{}, false
	}
	seq, okSeq := countField(fields, "seq")
	ts, okTS := numberField(fields, "ts")
	if !okSeq || !okTS {
		return Message{}, false
	}
	m.Origin, m.Seq, m.TS = origin, seq, ts
	if _, present := fields["cseq"]; present {
		// Optional, but when present a count like seq: null, a string or a fraction is malformed.
		if m.Cseq, m.HasCseq = countField(fields, "cseq"); !m.HasCseq {
			return Message{}, false
		}
	}
	switch Type(typ) {
	case TypeHeartbeat, TypeClear:
		m.Type = Type(typ)
		return m, true
	case TypeInvalidation:
		version, okVersion := countField(fields, "version")
		if !stringField(fields, "key", &m.Key) || !keys.Valid(m.Key) || !okVersion {
			return Message{}, false
		}
		m.Type, m.Version = TypeInvalidation, version
		return m, true
	}
	return Message{}, false
}

func stringField(fields map[string]json.RawMessage, name string, into *string) bool {
	raw, ok := fields[name]
	return ok && len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, into) == nil
}

func numberField(fields map[string]json.RawMessage, name string) (float64, bool) {
	raw, ok := fields[name]
	if !ok || len(raw) == 0 || !(raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false // "1e999" is Infinity in JavaScript: not finite either
	}
	return f, true
}

// countField reads an integer from 0 to 2^53−1, judged as JavaScript judges the double it
// parses to (Number.isSafeInteger): 7.0 and 7e0 are 7; 9007199254740993 is 2^53 and refused.
func countField(fields map[string]json.RawMessage, name string) (int64, bool) {
	f, ok := numberField(fields, name)
	if !ok || f < 0 || f > MaxSafeInteger || f != math.Trunc(f) {
		return 0, false
	}
	return int64(f), true
}
