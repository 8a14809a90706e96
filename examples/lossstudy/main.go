package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sluicelog/sluice/limit"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lossstudy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rates := fs.String("rates", "5000,10000,20000,50000,100000,200000", "offered rates in envelopes per second (comma-separated, increasing)")
	step := fs.Duration("step", 2*time.Second, "how long each rate is offered")
	slow := fs.Duration("slow-delay", 5*time.Millisecond, "the slow subscriber's pause after each batch it reads")
	out := fs.String("out", ".", "directory for loss.csv and loss.svg (noisy.csv and noisy.svg with -noisy)")
	noisy := fs.Bool("noisy", false, "run the noisy-neighbour study instead: one source offering -multiples times the router's capacity and 99 steady sources, fair buffer beside ring")
	multiples := fs.String("multiples", "2,5,10,20", "with -noisy: the noisy source's offers, in router capacities per round (comma-separated, increasing)")
	capacity := fs.Int("capacity", 200, "with -noisy: envelopes the router routes per round")
	rounds := fs.Int("rounds", 11, "with -noisy: rounds per run")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: lossstudy [flags]\n\nOffers increasing rates to a router with a fast and a slow subscriber; writes loss.csv and loss.svg.\nWith -noisy, compares the fair buffer with the ring under one flooding source; writes noisy.csv and noisy.svg.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *noisy {
		return runNoisy(ctx, *multiples, NoisyConfig{Capacity: *capacity, Rounds: *rounds}, *out, stdout, stderr)
	}
	cfg := Config{Step: *step, SlowDelay: *slow}
	var ok bool
	if cfg.Rates, ok = wholeNumbers("-rates", *rates, stderr); !ok {
		return 2
	}
	steps, err := Run(ctx, cfg, stdout)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if !writeFiles(*out, stdout, stderr, map[string]func(io.Writer) error{
		"loss.csv": func(w io.Writer) error { return WriteCSV(w, steps) },
		"loss.svg": func(w io.Writer) error { return WriteSVG(w, steps) },
	}) {
		return 1
	}
	for _, s := range steps {
		if !s.Balanced() {
			fmt.Fprintf(stdout, "rate %d: accounting does not balance\n", s.Rate)
			return 1
		}
	}
	return 0
}

// runNoisy runs the noisy-neighbour study and writes noisy.csv and
// noisy.svg. It fails when, with the fair policy, the steady sources lose
// 0.1 % or more of their envelopes.
func runNoisy(ctx context.Context, multiples string, cfg NoisyConfig, out string, stdout, stderr io.Writer) int {
	var ok bool
	if cfg.Multiples, ok = wholeNumbers("-multiples", multiples, stderr); !ok {
		return 2
	}
	rows, err := RunNoisy(ctx, cfg, stdout)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if !writeFiles(out, stdout, stderr, map[string]func(io.Writer) error{
		"noisy.csv": func(w io.Writer) error { return WriteNoisyCSV(w, rows) },
		"noisy.svg": func(w io.Writer) error { return WriteNoisySVG(w, rows) },
	}) {
		return 1
	}
	for _, r := range rows {
		if r.Policy == limit.PolicyFair && r.SteadyLoss() >= 0.001 {
			fmt.Fprintf(stdout, "noisy %dx: the fair buffer cost the steady sources %.2f %%\n", r.Multiple, 100*r.SteadyLoss())
			return 1
		}
	}
	return 0
}

// wholeNumbers parses a comma-separated list of positive whole numbers.
func wholeNumbers(flagName, list string, stderr io.Writer) ([]int, bool) {
	var out []int
	for _, p := range strings.Split(list, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || r <= 0 {
			fmt.Fprintf(stderr, "lossstudy: %s: %q is not a positive whole number\n", flagName, p)
			return nil, false
		}
		out = append(out, r)
	}
	return out, true
}

// writeFiles writes each file into dir and names it on stdout.
func writeFiles(dir string, stdout, stderr io.Writer, files map[string]func(io.Writer) error) bool {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(stderr, err)
		return false
	}
	for name, write := range files {
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err == nil {
			err = write(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, "lossstudy:", err)
			return false
		}
		fmt.Fprintln(stdout, "wrote", path)
	}
	return true
}
