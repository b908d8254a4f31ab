// Command copyprotocol copies the protocol's Lua scripts and test vectors from the repository's
// protocol/ directory into the Go module, which //go:embed and the tests cannot reach outside
// of. Run by go generate in cachelab/:
//
//	go generate ./cachelab
//
// TestProtocolCopies (cachelab/protocol_test.go) fails when a copy differs from protocol/.
package main

import (
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: copyprotocol <protocol dir> <module dir of cachelab>")
		os.Exit(2)
	}
	from, to := os.Args[1], os.Args[2]
	copies := map[string]string{"scripts/*.lua": "scripts", "vectors/*.json": "testdata/vectors"}
	for pattern, dir := range copies {
		files, err := filepath.Glob(filepath.Join(from, pattern))
		if err != nil || len(files) == 0 {
			fmt.Fprintf(os.Stderr, "copyprotocol: nothing matches %s in %s\n", pattern, from)
			os.Exit(1)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err == nil {
				err = os.WriteFile(filepath.Join(to, dir, filepath.Base(file)), data, 0o644)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "copyprotocol:", err)
				os.Exit(1)
			}
		}
	}
}
