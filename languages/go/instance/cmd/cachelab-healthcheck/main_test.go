package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		delay   time.Duration
		healthy bool
	}{
		{"ready or degraded: 200", http.StatusOK, 0, true},
		{"database down or draining: 503", http.StatusServiceUnavailable, 0, false},
		{"anything else but 200: 404", http.StatusNotFound, 0, false},
		{"no answer before the deadline", http.StatusOK, time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-time.After(tt.delay):
				case <-r.Context().Done():
				}
				w.WriteHeader(tt.status)
			}))
			defer server.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			err := check(ctx, server.URL+"/readyz")
			if (err == nil) != tt.healthy {
				t.Fatalf("check() = %v, want healthy %v", err, tt.healthy)
			}
		})
	}
}

func TestCheckRefused(t *testing.T) {
	server := httptest.NewServer(http.NotFoundHandler())
	url := server.URL + "/readyz"
	server.Close()
	if err := check(context.Background(), url); err == nil {
		t.Fatal("check() of a closed port = nil, want an error")
	}
}
