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

// With -noisy, one source sends 20 times each mix source's rate: the live
// view and the final ledger name it first among the sources that sent the
// most, at the agents and at the routers.
func TestDemoNoisyNamesTheNoisySource(t *testing.T) {
	var out, errs bytes.Buffer
	code := run(context.Background(), []string{"-duration", "1s", "-rate", "2000", "-noisy", "-noisy-factor", "20", "-refresh", "200ms", "-telemetry", "0"}, &out, &errs, false)
	t.Log(out.String())
	if code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, errs.String())
	}
	s := out.String()
	for _, want := range []string{`noisy neighbour: source "noisy" at 4000 env/s`, "| top sent noisy ", "Heavy hitters", "agents: sent", "routers: dropped", "OK: every envelope"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	_, ledger, _ := strings.Cut(s, "Heavy hitters")
	if got := strings.Count(ledger, "1. noisy "); got != 2 {
		t.Errorf("the ledger names the noisy source first %d times, want 2 (agents and routers sent)", got)
	}
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &out, &errs, false); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, f := range []string{"-rate", "-duration", "-mix", "-slow", "-ack", "-groups", "-crash-router-after", "-plaintext", "-noisy", "-noisy-factor", "-buffer-policy"} {
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
	if code := run(context.Background(), []string{"-buffer-policy", "lifo"}, &out, &errs, false); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
}
