package cachelab

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// protocolDir is the repository's protocol/ directory, seen from this package.
const protocolDir = "../../../protocol"

// TestProtocolCopies fails when the module's copies of protocol/scripts and protocol/vectors
// differ from the originals: run `go generate ./cachelab` after changing protocol/.
func TestProtocolCopies(t *testing.T) {
	if _, err := os.Stat(protocolDir); err != nil {
		t.Skipf("no %s in this checkout: the copies cannot be compared", protocolDir)
	}
	for pattern, copies := range map[string]string{"scripts/*.lua": "scripts", "vectors/*.json": "testdata/vectors"} {
		originals, _ := filepath.Glob(filepath.Join(protocolDir, pattern))
		copied, _ := filepath.Glob(filepath.Join(copies, filepath.Ext(pattern)[0:0]+"*"+filepath.Ext(pattern)))
		if len(originals) == 0 || len(originals) != len(copied) {
			t.Errorf("%s: %d originals, %d copies in %s", pattern, len(originals), len(copied), copies)
		}
		for _, original := range originals {
			want, _ := os.ReadFile(original)
			got, err := os.ReadFile(filepath.Join(copies, filepath.Base(original)))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s (run go generate ./cachelab)", filepath.Join(copies, filepath.Base(original)), original)
			}
		}
	}
}
