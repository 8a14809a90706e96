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
	out := fs.String("out", ".", "directory for loss.csv and loss.svg")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: lossstudy [flags]\n\nOffers increasing rates to a router with a fast and a slow subscriber; writes loss.csv and loss.svg.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	cfg := Config{Step: *step, SlowDelay: *slow}
	for _, p := range strings.Split(*rates, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || r <= 0 {
			fmt.Fprintf(stderr, "lossstudy: -rates: %q is not a positive whole number\n", p)
			return 2
		}
		cfg.Rates = append(cfg.Rates, r)
	}
	steps, err := Run(ctx, cfg, stdout)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	for name, write := range map[string]func(io.Writer, []Step) error{"loss.csv": WriteCSV, "loss.svg": WriteSVG} {
		path := filepath.Join(*out, name)
		f, err := os.Create(path)
		if err == nil {
			err = write(f, steps)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, "lossstudy:", err)
			return 1
		}
		fmt.Fprintln(stdout, "wrote", path)
	}
	for _, s := range steps {
		if !s.Balanced() {
			fmt.Fprintf(stdout, "rate %d: accounting does not balance\n", s.Rate)
			return 1
		}
	}
	return 0
}
