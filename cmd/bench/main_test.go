package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary stand in for the bench binary when the
// widget phase re-executes itself as the baselines server: the flag is
// handled before the testing package parses (and refuses) it.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == serveBaselinesFlag {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
