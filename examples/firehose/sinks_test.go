package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"testing"

	"github.com/sluicelog/sluice/drain/draintest"
)

// With -syslog-drain the demo delivers every envelope its drain nozzle
// reads to a real syslog receiver, and says so exactly.
func TestDemoSyslogDrain(t *testing.T) {
	srv := draintest.NewServer(nil)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Kill()
	var out, errs bytes.Buffer
	code := run(context.Background(), []string{"-duration", "1s", "-rate", "2000", "-refresh", "200ms", "-syslog-drain", srv.URL()}, &out, &errs, false)
	t.Log(out.String())
	if code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, errs.String())
	}
	m := regexp.MustCompile(`syslog drain \S+: read (\d+) from the proxy \(shard group "syslog-drain"\), (\d+) drains; sent (\d+) \((\d+) syslog messages\), dropped (\d+) `).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no syslog drain line")
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	read, sent, msgs, dropped := n(1), n(3), n(4), n(5)
	total := regexp.MustCompile(`\nsent (\d+) \(load`).FindStringSubmatch(out.String())
	if total == nil {
		t.Fatal("no total sent")
	}
	if want, _ := strconv.Atoi(total[1]); read != want || sent != read || dropped != 0 {
		t.Errorf("read %d, sent %d, dropped %d: want every one of the %d envelopes read and sent", read, sent, dropped, want)
	}
	if err := srv.Wait(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	if got := len(srv.Messages()); got != msgs || srv.Malformed() != 0 {
		t.Errorf("receiver has %d messages (%d malformed), drain sent %d", got, srv.Malformed(), msgs)
	}
	if code := run(context.Background(), []string{"-syslog-drain", "ftp://x"}, &out, &errs, false); code != 2 {
		t.Errorf("bad URL: exit %d, want 2", code)
	}
}
