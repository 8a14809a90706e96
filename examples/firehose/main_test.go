package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// The demo runs, shows the live view, prints the accounting and exits 0.
func TestDemoRunsAndBalances(t *testing.T) {
	var out, errs bytes.Buffer
	code := run(context.Background(), []string{"-duration", "1500ms", "-rate", "4000", "-slow", "-refresh", "200ms"}, &out, &errs, false)
	t.Log(out.String())
	if code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, errs.String())
	}
	s := out.String()
	for _, want := range []string{"t=", "| archive delivered", "Accounting", `shard group "archive" (2 nozzles)`, `shard group "slow"`, "OK: every envelope"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &out, &errs, false); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, f := range []string{"-rate", "-duration", "-mix", "-slow", "-ack", "-groups", "-crash-router-after", "-plaintext"} {
		if !strings.Contains(errs.String(), f) {
			t.Errorf("-h lacks %s", f)
		}
	}
}

func TestBadFlags(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"-mix", "log=x"}, &out, &errs, false); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if code := run(context.Background(), []string{"-groups", "a:0"}, &out, &errs, false); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
}
