package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

var csvHeader = []string{
	"offered_rate", "offered", "client_dropped", "router_ingress", "router_buffer_dropped",
	"fast_delivered", "fast_router_dropped", "fast_nozzle_dropped", "slow_delivered", "slow_router_dropped",
}

// WriteCSV writes one row per step.
func WriteCSV(w io.Writer, steps []Step) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	for _, s := range steps {
		row := []string{strconv.Itoa(s.Rate), u(s.Offered), u(s.ClientDropped), u(s.RouterIngress), u(s.RouterBufferDropped),
			u(s.FastDelivered), u(s.FastRouterDropped), u(s.FastNozzleDropped), u(s.SlowDelivered), u(s.SlowRouterDropped)}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

type series struct {
	name  string
	color string
	value func(Step) uint64
}

// WriteSVG draws, against the offered rate (log scale), the share of
// offered envelopes each subscriber got and where the rest dropped.
func WriteSVG(w io.Writer, steps []Step) error {
	const width, height, left, right, top, bottom = 760.0, 420.0, 70.0, 190.0, 40.0, 50.0
	plotW, plotH := width-left-right, height-top-bottom
	lines := []series{
		{"fast delivered", "#1b9e77", func(s Step) uint64 { return s.FastDelivered }},
		{"slow delivered", "#7570b3", func(s Step) uint64 { return s.SlowDelivered }},
		{"slow: dropped at router", "#d95f02", func(s Step) uint64 { return s.SlowRouterDropped }},
		{"fast: dropped at router", "#e7298a", func(s Step) uint64 { return s.FastRouterDropped }},
		{"router ingress diode", "#66a61e", func(s Step) uint64 { return s.RouterBufferDropped }},
		{"emitting client", "#a6761d", func(s Step) uint64 { return s.ClientDropped }},
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="22" font-size="15">Where envelopes go as the offered rate grows (share of offered)</text>`+"\n", left)
	if len(steps) == 0 {
		b.WriteString("</svg>\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	minR, maxR := math.Log10(float64(steps[0].Rate)), math.Log10(float64(steps[len(steps)-1].Rate))
	if maxR <= minR {
		maxR = minR + 1
	}
	x := func(rate int) float64 { return left + (math.Log10(float64(rate))-minR)/(maxR-minR)*plotW }
	y := func(frac float64) float64 { return top + (1-frac)*plotH }
	// Axes and grid.
	for i := 0; i <= 4; i++ {
		f := float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, y(f), left+plotW, y(f))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%d%%</text>`+"\n", left-6, y(f)+4, i*25)
	}
	for _, s := range steps {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", x(s.Rate), top, x(s.Rate), top+plotH)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x(s.Rate), top+plotH+16, shortRate(s.Rate))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">offered envelopes per second</text>`+"\n", left+plotW/2, height-10)
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n", left, top, plotW, plotH)
	for i, l := range lines {
		var pts []string
		for _, s := range steps {
			frac := 0.0
			if s.Offered > 0 {
				frac = float64(l.value(s)) / float64(s.Offered)
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.Rate), y(frac)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", l.color, strings.Join(pts, " "))
		for _, p := range pts {
			xy := strings.Split(p, ",")
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", xy[0], xy[1], l.color)
		}
		ly := top + 10 + float64(i)*20
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/>`+"\n", left+plotW+12, ly, left+plotW+32, ly, l.color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", left+plotW+38, ly+4, l.name)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func shortRate(r int) string {
	switch {
	case r >= 1000000 && r%100000 == 0:
		return strconv.FormatFloat(float64(r)/1e6, 'f', -1, 64) + "M"
	case r >= 1000 && r%100 == 0:
		return strconv.FormatFloat(float64(r)/1e3, 'f', -1, 64) + "k"
	}
	return strconv.Itoa(r)
}
