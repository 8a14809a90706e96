package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Row is one line of the study's table: a shape (senders, subscribers,
// copy or split) at one offered rate.
type Row struct {
	Label       string
	Rate        int // 0 is flat out
	Senders     int
	Subscribers int
	Split       bool
}

// TableRows are the rows of the table, in order: 50k, 200k, 300k
// and 550k offered over four sender streams to one subscriber; flat out
// with one and with four sender streams; a copy each (A,B) and a share each
// (A,A) at 200k.
func TableRows() []Row {
	return []Row{
		{"50k", 50000, 4, 1, false},
		{"200k", 200000, 4, 1, false},
		{"300k", 300000, 4, 1, false},
		{"550k", 550000, 4, 1, false},
		{"max, 1 sender", 0, 1, 1, false},
		{"max, 4 senders", 0, 4, 1, false},
		{"200k copy (A,B)", 200000, 4, 2, false},
		{"200k split (A,A)", 200000, 4, 2, true},
	}
}

// Median is a row's median over its runs, each column on its own.
type Median struct {
	Row
	Runs                 int
	SentRate, Delivered  float64
	Loss, CPUPerMillion  float64
	OfferedLoss          float64
	RSS, PeakRSS         float64
	IngressDrop, SubDrop float64
}

// RunTable runs every row cfg.Runs times (a fresh router each run) with
// cfg's buffers and duration, prints each run as it ends and then the
// medians, and returns every run.
func RunTable(ctx context.Context, cfg Config, rows []Row, stdout, stderr io.Writer) ([]Step, []Median, error) {
	var steps []Step
	var meds []Median
	for i, row := range rows {
		c := cfg
		if cfg.ProfileDir != "" {
			// Rows share rates: a directory per row keeps profiles apart.
			c.ProfileDir = filepath.Join(cfg.ProfileDir, fmt.Sprintf("row%d", i+1))
			if err := os.MkdirAll(c.ProfileDir, 0o755); err != nil {
				return steps, meds, err
			}
		}
		c.Rates = []int{row.Rate}
		c.Senders, c.Subscribers, c.Split = row.Senders, row.Subscribers, row.Split
		fmt.Fprintf(stdout, "== %s\n", row.Label)
		st, err := Run(ctx, c, stdout, stderr)
		steps = append(steps, st...)
		if err != nil {
			return steps, meds, err
		}
		meds = append(meds, median(row, st))
	}
	WriteTable(stdout, cfg, meds)
	return steps, meds, nil
}

func median(row Row, steps []Step) Median {
	m := Median{Row: row, Runs: len(steps)}
	col := func(f func(Step) float64) float64 {
		v := make([]float64, len(steps))
		for i, s := range steps {
			v[i] = f(s)
		}
		slices.Sort(v)
		if len(v) == 0 {
			return 0
		}
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	m.SentRate = col(Step.SentRate)
	m.Delivered = col(func(s Step) float64 { return float64(s.Delivered) })
	m.Loss = col(Step.Loss)
	m.CPUPerMillion = col(Step.CPUPerMillion)
	m.OfferedLoss = col(Step.OfferedLoss)
	m.RSS = col(func(s Step) float64 { return float64(s.RSS) })
	m.PeakRSS = col(func(s Step) float64 { return float64(s.PeakRSS) })
	m.IngressDrop = col(func(s Step) float64 { return float64(s.IngressDropped) })
	m.SubDrop = col(func(s Step) float64 { return float64(s.EgressDropped) })
	return m
}

// WriteTable prints the medians as a Markdown table.
func WriteTable(w io.Writer, cfg Config, meds []Median) {
	runs := 0
	if len(meds) > 0 {
		runs = meds[0].Runs
	}
	fmt.Fprintf(w, "\nmedian of %d run(s) of %v each; ingress diode %d, subscription diode %s; delivered/s is delivered over the send window\n\n",
		runs, cfg.Duration, cfg.Buffer, subDiode(cfg.SubBuffer))
	fmt.Fprintln(w, "| offered | senders | subscribers | sent/s | delivered/s | loss | loss of offered | in-drop | sub-drop | CPU-s/M | RSS MiB | peak MiB |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, m := range meds {
		subs := fmt.Sprint(m.Subscribers)
		if m.Subscribers > 1 {
			subs += map[bool]string{false: " (A,B)", true: " (A,A)"}[m.Split]
		}
		fmt.Fprintf(w, "| %s | %d | %s | %.0f | %.0f | %.3f %% | %.3f %% | %.0f | %.0f | %.3f | %.1f | %.1f |\n",
			m.Label, m.Senders, subs, m.SentRate, m.Delivered/cfg.Duration.Seconds(), 100*m.Loss, 100*m.OfferedLoss, m.IngressDrop, m.SubDrop,
			m.CPUPerMillion, m.RSS/(1<<20), m.PeakRSS/(1<<20))
	}
}

// tableDuration estimates how long a table takes: each run is the send
// window plus about 3 s of starting, settling and stopping the router.
func tableDuration(rows []Row, cfg Config) time.Duration {
	return time.Duration(len(rows)*cfg.Runs) * (cfg.Duration + 3*time.Second)
}

// subDiode describes the subscription diode size asked for: n envelopes,
// or the router's own default for 0.
func subDiode(n int) string {
	if n == 0 {
		return "the router's default"
	}
	return strconv.Itoa(n)
}
