package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A short study at one low rate with two subscribers (a copy each): the
// router program is built and run with mutual TLS, nothing is lost at
// 2,000 envelopes per second, every column is filled and the CSV has a row.
func TestStudyAtALowRate(t *testing.T) {
	dir := study(t)

	f, err := os.Open(filepath.Join(dir, "routerbench.csv"))
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Len(t, rows[1], len(csvHeader))
	col := func(name string) string {
		for i, h := range csvHeader {
			if h == name {
				return rows[1][i]
			}
		}
		t.Fatalf("no column %s", name)
		return ""
	}
	num := func(name string) float64 {
		v, err := strconv.ParseFloat(col(name), 64)
		require.NoError(t, err, name)
		return v
	}
	sent := num("sent")
	// 2,000/s for 1 s in batches of 100: the pacer sends what is due.
	assert.InDelta(t, 2000, sent, 200)
	assert.Equal(t, 2*sent, num("expected"))
	assert.Equal(t, 2*sent, num("delivered"))
	assert.Equal(t, 0.0, num("loss"))
	// The router kept up: the senders dropped nothing and had nothing left.
	assert.Equal(t, 0.0, num("sender_dropped"))
	assert.InDelta(t, sent, num("offered"), BatchSize)
	assert.InDelta(t, 0.0, num("offered_loss"), 0.05)
	assert.Equal(t, 0.0, num("ingress_dropped"))
	assert.Equal(t, 0.0, num("egress_dropped"))
	assert.Positive(t, num("rss_bytes"))
	assert.GreaterOrEqual(t, num("peak_rss_bytes"), num("rss_bytes"))
	assert.Equal(t, "2000", col("offered_rate"))
	// The router read its streams and wrote to its subscribers.
	assert.Positive(t, num("syscall_reads"))
	assert.Positive(t, num("syscall_writes"))

	// The router wrote its profile when it stopped.
	fi, err := os.Stat(filepath.Join(dir, "cpu-2000-1.pprof"))
	require.NoError(t, err)
	assert.Positive(t, fi.Size())
}

func TestProcReadsThisProcess(t *testing.T) {
	pid := os.Getpid()
	cpu, err := procCPU(pid)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, cpu, time.Duration(0))
	rss, peak, err := procRSS(pid)
	require.NoError(t, err)
	assert.Positive(t, rss)
	assert.GreaterOrEqual(t, peak, rss)
	// Reading /proc/PID/io is itself a read (os.ReadFile reads until EOF:
	// at least two read calls) and writes nothing.
	r0, w0, err := procSyscalls(pid)
	require.NoError(t, err)
	r1, w1, err := procSyscalls(pid)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, r1-r0, uint64(2))
	assert.Equal(t, w0, w1)
}

// A goroutine locked to its thread that sleeps puts that thread to sleep
// each time: each sleep is one voluntary context switch of the process.
func TestProcSwitchesCountsSleeps(t *testing.T) {
	pid := os.Getpid()
	done := make(chan [2]uint64)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		s0, err := procSwitches(pid)
		assert.NoError(t, err)
		for range 20 {
			time.Sleep(time.Millisecond)
		}
		s1, err := procSwitches(pid)
		assert.NoError(t, err)
		done <- [2]uint64{s0, s1}
	}()
	s := <-done
	assert.GreaterOrEqual(t, s[1]-s[0], uint64(20))
}

func TestFlagsAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{"-rates", "fast"},
		{"-rates", "-5"},
		{"-senders", "5"},
		{"-subscribers", "3"},
		{"-runs", "0"},
	} {
		var out, errs bytes.Buffer
		assert.Equal(t, 2, run(context.Background(), args, &out, &errs), args)
	}
}

// The table's medians take each column's middle value over the runs, and
// the Markdown table has a line per row.
func TestTableMedians(t *testing.T) {
	row := Row{Label: "200k copy (A,B)", Rate: 200000, Senders: 4, Subscribers: 2}
	steps := []Step{
		{Window: time.Second, Offered: 200, SenderDropped: 100, Sent: 100, Expected: 200, Delivered: 200, CPU: 2 * time.Millisecond, RSS: 30 << 20, PeakRSS: 40 << 20},
		{Window: time.Second, Offered: 200, SenderDropped: 100, Sent: 100, Expected: 200, Delivered: 100, CPU: 9 * time.Millisecond, RSS: 10 << 20, PeakRSS: 20 << 20, EgressDropped: 100},
		{Window: time.Second, Offered: 200, SenderDropped: 100, Sent: 100, Expected: 200, Delivered: 190, CPU: 1 * time.Millisecond, RSS: 20 << 20, PeakRSS: 30 << 20, EgressDropped: 10},
	}
	m := median(row, steps)
	assert.Equal(t, 3, m.Runs)
	assert.Equal(t, 190.0, m.Delivered)
	assert.InDelta(t, 0.05, m.Loss, 1e-9)
	// Offered twice what was sent: 400 deliveries would have meant no
	// loss; 200, 100 and 190 came: the middle loss is 52.5 %.
	assert.InDelta(t, 0.525, m.OfferedLoss, 1e-9)
	// CPU-s per million: 10, 90 and 5.26...: the middle one is 10.
	assert.InDelta(t, 10.0, m.CPUPerMillion, 1e-9)
	assert.Equal(t, float64(20<<20), m.RSS)
	assert.Equal(t, 10.0, m.SubDrop)

	var out bytes.Buffer
	WriteTable(&out, Config{Duration: time.Second, Buffer: 10000, SubBuffer: 1000}, []Median{m})
	assert.Contains(t, out.String(), "| 200k copy (A,B) | 4 | 2 (A,B) | 100 | 190 | 5.000 % | 52.500 % | 0 | 10 | 10.000 | 20.0 | 30.0 |")
	assert.Len(t, TableRows(), 8)
	// Eight rows, three 10 s runs each, stay under 8 minutes.
	assert.Less(t, tableDuration(TableRows(), Config{Runs: 3, Duration: 10 * time.Second}), 8*time.Minute)
}

// The relay, the floor under the router's figures, runs under the same
// harness: built, started with mutual TLS, it passes on every envelope at a
// low rate, counts them in as the router does, and writes its profile.
func TestRelayAtALowRate(t *testing.T) {
	dir := study(t, "-relay")
	rows := readCSV(t, filepath.Join(dir, "routerbench.csv"))
	require.Len(t, rows, 1)
	sent := rows[0]["sent"]
	assert.InDelta(t, 2000, sent, 200)
	assert.Equal(t, 2*sent, rows[0]["delivered"])
	assert.Equal(t, 0.0, rows[0]["egress_dropped"])
	fi, err := os.Stat(filepath.Join(dir, "cpu-2000-1.pprof"))
	require.NoError(t, err)
	assert.Positive(t, fi.Size())
}

// Two subscribers of one shard ID share the relay's stream: every envelope
// is delivered once.
func TestRelaySharesAShardID(t *testing.T) {
	rows := readCSV(t, filepath.Join(study(t, "-relay", "-split"), "routerbench.csv"))
	require.Len(t, rows, 1)
	assert.InDelta(t, 2000, rows[0]["sent"], 200)
	assert.Equal(t, rows[0]["sent"], rows[0]["expected"])
	assert.Equal(t, rows[0]["sent"], rows[0]["delivered"])
}

func TestRelayAndRouterExclude(t *testing.T) {
	var out, errs bytes.Buffer
	assert.Equal(t, 2, run(context.Background(), []string{"-relay", "-router", "/bin/true"}, &out, &errs))
	assert.Contains(t, errs.String(), "-relay and -router")
}

// study runs routerbench at 2,000 envelopes a second for 1 s with two
// subscribers (a copy each) and profiles, with the extra flags, and returns
// the directory it wrote into. It builds a program: skipped with -short.
func study(t *testing.T, extra ...string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs a program")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	var out, errs bytes.Buffer
	args := append(extra, "-rates", "2000", "-duration", "1s", "-subscribers", "2", "-profile", "-out", dir)
	code := run(ctx, args, &out, &errs)
	t.Log(out.String())
	require.Equal(t, 0, code, errs.String())
	return dir
}

// readCSV reads routerbench.csv's numeric columns, one map per row.
func readCSV(t *testing.T, path string) []map[string]float64 {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, rows)
	var out []map[string]float64
	for _, r := range rows[1:] {
		m := map[string]float64{}
		for i, h := range rows[0] {
			if v, err := strconv.ParseFloat(r[i], 64); err == nil {
				m[h] = v
			}
		}
		out = append(out, m)
	}
	return out
}
