package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cachelab/cachelab/languages/go/instance/internal/store"
)

var (
	userIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	emailPattern  = regexp.MustCompile(`^[^\s@]+@[^\s@]+\.[^\s@]+$`)
	minVersionRE  = regexp.MustCompile(`^\d{1,16}$`)
)

func parseUserID(raw string) (string, error) {
	if userIDPattern.MatchString(raw) {
		return raw, nil
	}
	return "", fail(400, codeInvalidID, "user ids are 1-64 characters of [A-Za-z0-9_-]")
}

func invalidBody(message string) error { return fail(400, codeInvalidBody, message) }

// parseUserInput validates a full user body exactly as the Node instance does.
func parseUserInput(body []byte) (store.Input, error) {
	var fields map[string]json.RawMessage
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		fields = map[string]json.RawMessage{} // express.json: no body is {}
	} else if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &fields) != nil {
		return store.Input{}, invalidBody("the body must be a JSON object with name, email and age")
	}
	var unknown []string
	for key := range fields {
		if key != "name" && key != "email" && key != "age" {
			unknown = append(unknown, key)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return store.Input{}, invalidBody("unknown field(s): " + strings.Join(unknown[:min(5, len(unknown))], ", "))
	}
	var in store.Input
	name, okName := stringOf(fields["name"])
	if !okName || strings.TrimSpace(name) == "" || utf16Len(name) > 100 {
		return in, invalidBody("`name` must be a non-empty string of at most 100 characters")
	}
	email, okEmail := stringOf(fields["email"])
	if !okEmail || utf16Len(email) > 254 || !emailPattern.MatchString(email) {
		return in, invalidBody("`email` must be an e-mail address of at most 254 characters")
	}
	if !storable(name) {
		return in, invalidBody("`name` must not hold a NUL or an unpaired surrogate")
	}
	if !storable(email) {
		return in, invalidBody("`email` must not hold a NUL or an unpaired surrogate")
	}
	var age float64
	raw := bytes.TrimSpace(fields["age"])
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') || json.Unmarshal(raw, &age) != nil ||
		age != float64(int64(age)) || age < 0 || age > 150 {
		return in, invalidBody("`age` must be an integer from 0 to 150")
	}
	return store.Input{Name: name, Email: email, Age: int(age)}, nil
}

// stringOf decodes a JSON string; a lone surrogate escape comes back as U+FFFD, which storable refuses.
func stringOf(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	if loneSurrogate(raw) {
		s += "\uFFFD\x00" // refused by storable, as Node refuses \p{Cs}
	}
	return s, true
}

// loneSurrogate reports a \uD800-\uDFFF escape not part of a pair (encoding/json would replace it).
func loneSurrogate(raw []byte) bool {
	s := string(raw)
	for i := 0; i+6 <= len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		if s[i+1] != 'u' {
			i++ // skip the escaped character
			continue
		}
		var r rune
		if _, err := fmt.Sscanf(s[i+2:i+6], "%04x", &r); err != nil {
			continue
		}
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			if i+12 <= len(s) && s[i+6] == '\\' && s[i+7] == 'u' {
				var lo rune
				if _, err := fmt.Sscanf(s[i+8:i+12], "%04x", &lo); err == nil && lo >= 0xDC00 && lo <= 0xDFFF {
					i += 11
					continue
				}
			}
			return true
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		}
		i += 5
	}
	return false
}

func storable(s string) bool { return !strings.ContainsRune(s, 0) && utf8.ValidString(s) }

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r > 0xFFFF {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// readOptions are the per-request read options (X-Min-Version, X-Consistency).
type readOptions struct {
	minVersion int64
	strict     bool
}

func parseReadOptions(minVersion, consistency []string) (readOptions, error) {
	var o readOptions
	if len(minVersion) > 0 {
		value := strings.Join(minVersion, ", ")
		if err := rejectRepeated("X-Min-Version", value); err != nil {
			return o, err
		}
		var v int64
		if _, err := fmt.Sscan(value, &v); !minVersionRE.MatchString(value) || err != nil || v > 1<<53-1 {
			return o, fail(400, codeInvalidHeader, "`X-Min-Version` must be a version number")
		}
		o.minVersion = v
	}
	if len(consistency) > 0 {
		value := strings.Join(consistency, ", ")
		if err := rejectRepeated("X-Consistency", value); err != nil {
			return o, err
		}
		if value != "eventual" && value != "strict" {
			return o, fail(400, codeInvalidHeader, "`X-Consistency` must be eventual or strict")
		}
		o.strict = value == "strict"
	}
	return o, nil
}

func rejectRepeated(name, value string) error {
	if strings.Contains(value, ",") {
		shown := value
		if len(shown) > 100 {
			shown = shown[:100]
		}
		return fail(400, codeInvalidHeader, fmt.Sprintf("`%s` is a repeated header (got %q): send it once, with one value", name, shown))
	}
	return nil
}
