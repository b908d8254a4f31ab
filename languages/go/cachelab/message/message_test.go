package message

import (
	"encoding/json"
	"os"
	"testing"
)

type messageVectors struct {
	Sign []struct {
		ID    string
		Input struct {
			Channel, Secret, Payload string
		}
		Expected string
	}
	Decode []struct {
		ID    string
		Input struct {
			Channel string
			Secrets []string
			Raw     string
		}
		Expected struct {
			Accepted bool
			Reason   Reason
			Message  map[string]any
		}
	}
}

func loadVectors(t *testing.T) messageVectors {
	t.Helper()
	raw, err := os.ReadFile("../testdata/vectors/messages.json")
	if err != nil {
		t.Fatal(err)
	}
	var v messageVectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSignVectors(t *testing.T) {
	for _, c := range loadVectors(t).Sign {
		t.Run(c.ID, func(t *testing.T) {
			if got := Sign(c.Input.Channel, []byte(c.Input.Secret), c.Input.Payload); got != c.Expected {
				t.Fatalf("Sign = %q\nwant   %q", got, c.Expected)
			}
		})
	}
}

func TestDecodeVectors(t *testing.T) {
	for _, c := range loadVectors(t).Decode {
		t.Run(c.ID, func(t *testing.T) {
			codec, err := NewCodec(c.Input.Channel, c.Input.Secrets)
			if err != nil {
				t.Fatal(err)
			}
			m, reason, ok := codec.Decode(c.Input.Raw)
			want := c.Expected
			if ok != want.Accepted || (!ok && reason != want.Reason) {
				t.Fatalf("Decode = %+v, %q, %v; want accepted %v, reason %q", m, reason, ok, want.Accepted, want.Reason)
			}
			if !ok {
				return
			}
			got := map[string]any{"type": string(m.Type), "origin": m.Origin, "seq": float64(m.Seq), "ts": m.TS}
			if m.Type == TypeInvalidation {
				got["key"], got["version"] = m.Key, float64(m.Version)
			}
			if m.HasCseq {
				got["cseq"] = float64(m.Cseq)
			}
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(want.Message)
			if string(gotJSON) != string(wantJSON) {
				t.Fatalf("decoded %s, want %s", gotJSON, wantJSON)
			}
		})
	}
}

func TestEncodeWritesNodesBytes(t *testing.T) {
	tests := []struct {
		m    Message
		want string
	}{
		{Message{Type: TypeInvalidation, Key: "user:42", Version: 7, Origin: "app-1", Seq: 12, TS: 1765065600123.25},
			`{"type":"inv","key":"user:42","version":7,"origin":"app-1","seq":12,"ts":1765065600123.25}`},
		{Message{Type: TypeHeartbeat, Origin: "app-1", Seq: 41, TS: 1765065600123},
			`{"type":"hb","origin":"app-1","seq":41,"ts":1765065600123}`},
		{Message{Type: TypeClear, Origin: "app-1", Seq: 13, TS: 1765065600123.25},
			`{"type":"clr","origin":"app-1","seq":13,"ts":1765065600123.25}`},
		{Message{Type: TypeInvalidation, Key: "user:42", Version: 7, Origin: "app-1", Seq: 12, TS: 1765065600123.25, Cseq: 40, HasCseq: true},
			`{"type":"inv","key":"user:42","version":7,"origin":"app-1","seq":12,"ts":1765065600123.25,"cseq":40}`},
		{Message{Type: TypeHeartbeat, Origin: "app-1", Seq: 41, TS: 1765065600123, HasCseq: true},
			`{"type":"hb","origin":"app-1","seq":41,"ts":1765065600123,"cseq":0}`},
		{Message{Type: TypeInvalidation, Key: `a"b\c<&>é`, Version: 1, Origin: "o", Seq: 0, TS: 0.5},
			`{"type":"inv","key":"a\"b\\c<&>é","version":1,"origin":"o","seq":0,"ts":0.5}`},
	}
	codec, _ := NewCodec("cl:invalidations", nil)
	for _, tt := range tests {
		got := codec.Encode(tt.m)
		if got != tt.want {
			t.Errorf("Encode = %s\nwant     %s", got, tt.want)
		}
		if back, _, ok := codec.Decode(got); !ok || back != tt.m {
			t.Errorf("round trip: %+v, %v", back, ok)
		}
	}
}

// cseq is optional; when present it follows seq's number rules (MUST-MSG-8, MUST-MSG-4).
func TestDecodeCseq(t *testing.T) {
	const head = `{"type":"hb","origin":"app-1","seq":1,"ts":1`
	tests := []struct {
		raw     string
		ok      bool
		cseq    int64
		present bool
	}{
		{head + `}`, true, 0, false},
		{head + `,"cseq":0}`, true, 0, true},
		{head + `,"cseq":40}`, true, 40, true},
		{head + `,"cseq":4e1}`, true, 40, true},
		{head + `,"cseq":9007199254740991}`, true, MaxSafeInteger, true},
		{head + `,"cseq":9007199254740992}`, false, 0, false},
		{head + `,"cseq":-1}`, false, 0, false},
		{head + `,"cseq":1.5}`, false, 0, false},
		{head + `,"cseq":"1"}`, false, 0, false},
		{head + `,"cseq":null}`, false, 0, false},
		{head + `,"cseq":true}`, false, 0, false},
	}
	for _, tt := range tests {
		m, ok := Decode(tt.raw)
		if ok != tt.ok || m.HasCseq != tt.present || m.Cseq != tt.cseq {
			t.Errorf("Decode(%s) = cseq %d (present %v), %v; want %d (%v), %v",
				tt.raw, m.Cseq, m.HasCseq, ok, tt.cseq, tt.present, tt.ok)
		}
	}
}
