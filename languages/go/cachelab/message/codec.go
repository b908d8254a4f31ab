package message

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"

	"github.com/cachelab/cachelab/languages/go/cachelab/keys"
)

// macLength is the length of a base64url HMAC-SHA256 without padding; the dot follows it.
const (
	macLength       = 43
	macPrefixLength = macLength + 1
)

// Codec turns messages into what is PUBLISHed and back, signed when it has secrets. It is
// immutable and safe for concurrent use.
type Codec struct {
	channel string
	secrets [][]byte
}

// NewCodec returns the codec of a namespace's global channel (the one the MAC covers, whichever
// channel a message travels on). Without secrets messages are plain JSON; with secrets the first
// signs and every one verifies.
func NewCodec(channel string, secrets []string) (*Codec, error) {
	c := &Codec{channel: channel}
	for _, s := range secrets {
		if s == "" {
			return nil, errors.New("cachelab: an empty signing secret")
		}
		c.secrets = append(c.secrets, []byte(s))
	}
	return c, nil
}

// Signed reports whether the codec signs and verifies.
func (c *Codec) Signed() bool { return len(c.secrets) > 0 }

// Encode returns the string to PUBLISH for m.
func (c *Codec) Encode(m Message) string {
	payload, _ := m.MarshalJSON()
	if !c.Signed() {
		return string(payload)
	}
	return Sign(c.channel, c.secrets[0], string(payload))
}

// Decode verifies (with secrets) and parses raw, as received on a channel. It never panics; a
// dropped message comes with its reason (MUST-SIGN-3: length, then shape, then MAC, then JSON).
func (c *Codec) Decode(raw string) (Message, Reason, bool) {
	if !c.Signed() {
		if m, ok := Decode(raw); ok {
			return m, "", true
		}
		return Message{}, Malformed, false
	}
	if keys.UTF16Len(raw) > MaxSignedLength {
		return Message{}, Malformed, false
	}
	if !isSigned(raw) {
		return Message{}, Unsigned, false
	}
	given, payload := []byte(raw[:macLength]), raw[macPrefixLength:]
	verified := false
	for _, secret := range c.secrets {
		// Constant time, so that timing reveals nothing about the expected MAC.
		if hmac.Equal(given, []byte(mac(c.channel, secret, payload))) {
			verified = true
		}
	}
	if !verified {
		return Message{}, Forged, false
	}
	if m, ok := Decode(payload); ok {
		return m, "", true
	}
	return Message{}, Malformed, false
}

// Sign returns <mac>.<payload>: the MAC is HMAC-SHA256 keyed with secret over
// channel "\n" payload, base64url without padding (MUST-SIGN-1).
func Sign(channel string, secret []byte, payload string) string {
	return mac(channel, secret, payload) + "." + payload
}

func mac(channel string, secret []byte, payload string) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(channel))
	h.Write([]byte{'\n'})
	h.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// isSigned: 43 characters of [A-Za-z0-9_-], then a dot.
func isSigned(raw string) bool {
	if len(raw) < macPrefixLength || raw[macLength] != '.' {
		return false
	}
	for i := range macLength {
		ch := raw[i]
		if !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' ||
			ch == '_' || ch == '-') {
			return false
		}
	}
	return true
}
