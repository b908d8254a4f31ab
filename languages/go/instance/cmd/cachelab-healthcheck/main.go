// Command cachelab-healthcheck is the Docker HEALTHCHECK of the Go instance's image
// (instance/Dockerfile), which has no shell and no curl: it asks the instance in the same
// container for /readyz and exits 0 when the answer is 200 (ready, or degraded without Redis),
// 1 otherwise (503 while the database does not answer or the instance drains, or no answer
// within 2 s). The port is the instance's: PORT, 3000 when unset.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := check(ctx, "http://127.0.0.1:"+port+"/readyz"); err != nil {
		fmt.Fprintln(os.Stderr, "cachelab-healthcheck:", err)
		os.Exit(1)
	}
}

// check GETs url and returns an error unless it answers 200 before ctx ends.
func check(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = res.Body.Close() }()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, res.Status)
	}
	return nil
}
