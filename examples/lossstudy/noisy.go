package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sluicelog/sluice/harness"
	"github.com/sluicelog/sluice/limit"
)

// NoisyConfig is the noisy-neighbour study's shape: for every multiple m,
// one source offers m times the router's capacity per round and Steady
// sources one envelope each, once with each policy (harness.RunNoisy).
type NoisyConfig struct {
	Multiples []int
	Capacity  int
	Steady    int
	Rounds    int
}

// NoisyRow is one run: a policy at one multiple.
type NoisyRow struct {
	Multiple int
	harness.NoisyResult
}

var noisyPolicies = []limit.Policy{limit.PolicyFair, limit.PolicyRing}

// RunNoisy runs every multiple with each policy, fair first.
func RunNoisy(ctx context.Context, cfg NoisyConfig, progress io.Writer) ([]NoisyRow, error) {
	var rows []NoisyRow
	for _, m := range cfg.Multiples {
		for _, p := range noisyPolicies {
			r, err := harness.RunNoisy(ctx, harness.NoisyConfig{Policy: p, Capacity: cfg.Capacity, Multiple: m, Steady: cfg.Steady, Rounds: cfg.Rounds})
			if err != nil {
				return rows, fmt.Errorf("lossstudy: noisy %dx %s: %w", m, p, err)
			}
			rows = append(rows, NoisyRow{Multiple: m, NoisyResult: r})
			if progress != nil {
				top := "-"
				if len(r.Summary.Dropped) > 0 {
					top = r.Summary.Dropped[0].SourceID
				}
				fmt.Fprintf(progress, "noisy %3dx capacity, %s: steady lost %d of %d (%.2f %%), noisy lost %d of %d (%.2f %%), top dropped source %s\n",
					m, p, r.OfferedSteady-r.DeliveredSteady, r.OfferedSteady, 100*r.SteadyLoss(),
					r.OfferedNoisy-r.DeliveredNoisy, r.OfferedNoisy, 100*r.NoisyLoss(), top)
			}
		}
	}
	return rows, nil
}

var noisyHeader = []string{
	"policy", "noisy_multiple", "offered_noisy", "offered_steady", "delivered_noisy", "delivered_steady",
	"router_buffer_dropped", "steady_loss", "noisy_loss", "top_dropped_source", "top_dropped_count",
}

// WriteNoisyCSV writes one row per run.
func WriteNoisyCSV(w io.Writer, rows []NoisyRow) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(noisyHeader); err != nil {
		return err
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }
	for _, r := range rows {
		top, n := "", uint64(0)
		if len(r.Summary.Dropped) > 0 {
			top, n = r.Summary.Dropped[0].SourceID, r.Summary.Dropped[0].Count
		}
		if err := cw.Write([]string{string(r.Policy), strconv.Itoa(r.Multiple), u(r.OfferedNoisy), u(r.OfferedSteady),
			u(r.DeliveredNoisy), u(r.DeliveredSteady), u(r.RouterDropped), f(r.SteadyLoss()), f(r.NoisyLoss()), top, u(n)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteNoisySVG draws two panels side by side, fair and ring: the share of
// the steady and of the noisy sources' envelopes lost, against how many
// times the router's capacity the noisy source offers.
func WriteNoisySVG(w io.Writer, rows []NoisyRow) error {
	const panelW, height, left, gap, top, bottom = 330.0, 400.0, 60.0, 40.0, 50.0, 70.0
	width := left + 2*panelW + gap + 20
	plotH := height - top - bottom
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="22" font-size="15">One noisy source against steady ones: share of envelopes lost</text>`+"\n", left)
	var multiples []int
	for _, r := range rows {
		if len(multiples) == 0 || multiples[len(multiples)-1] != r.Multiple {
			multiples = append(multiples, r.Multiple)
		}
	}
	y := func(frac float64) float64 { return top + (1-frac)*plotH }
	series := []struct {
		name, color string
		value       func(NoisyRow) float64
	}{
		{"steady sources lost", "#1b9e77", func(r NoisyRow) float64 { return r.SteadyLoss() }},
		{"noisy source lost", "#d95f02", func(r NoisyRow) float64 { return r.NoisyLoss() }},
	}
	for pi, p := range noisyPolicies {
		x0 := left + float64(pi)*(panelW+gap)
		x := func(i int) float64 {
			if len(multiples) < 2 {
				return x0 + panelW/2
			}
			return x0 + 20 + float64(i)/float64(len(multiples)-1)*(panelW-40)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="14" text-anchor="middle">%s</text>`+"\n", x0+panelW/2, top-10, p)
		for i := 0; i <= 4; i++ {
			f := float64(i) / 4
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x0, y(f), x0+panelW, y(f))
			if pi == 0 {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%d%%</text>`+"\n", x0-6, y(f)+4, i*25)
			}
		}
		for i, m := range multiples {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%dx</text>`+"\n", x(i), top+plotH+16, m)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">noisy offer, in router capacities</text>`+"\n", x0+panelW/2, top+plotH+34)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n", x0, top, panelW, plotH)
		for _, s := range series {
			var pts []string
			for i, m := range multiples {
				for _, r := range rows {
					if r.Policy == p && r.Multiple == m {
						pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(s.value(r))))
					}
				}
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s.color, strings.Join(pts, " "))
			for _, pt := range pts {
				xy := strings.Split(pt, ",")
				fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", xy[0], xy[1], s.color)
			}
		}
	}
	for i, s := range series {
		lx := left + float64(i)*200
		ly := height - 14
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/>`+"\n", lx, ly-4, lx+20, ly-4, s.color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", lx+26, ly, s.name)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
