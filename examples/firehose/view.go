package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sluicelog/sluice/harness"
	"github.com/sluicelog/sluice/limit"
)

// liveView prints rates per hop. On a terminal it redraws in place; else it
// prints one line per refresh.
type liveView struct {
	w        io.Writer
	terminal bool
	lines    int
	notes    []string
}

func (v *liveView) note(s string) {
	v.notes = append(v.notes, s)
	if !v.terminal {
		fmt.Fprintln(v.w, s)
	}
}

func rate(cur, prev uint64, d time.Duration) float64 {
	if cur < prev || d <= 0 {
		return 0
	}
	return float64(cur-prev) / d.Seconds()
}

func dropped(h harness.Hop) uint64 {
	var n uint64
	for _, v := range h.Dropped {
		n += v
	}
	return n
}

func (v *liveView) show(elapsed time.Duration, cur, prev harness.Report, d time.Duration, topo *harness.Topology) {
	agents, routers := topo.HeavyHitters(3)
	if !v.terminal {
		var b strings.Builder
		fmt.Fprintf(&b, "t=%5.1fs sent %8.0f/s", elapsed.Seconds(), rate(cur.Sent, prev.Sent, d))
		for i, h := range cur.Hops {
			fmt.Fprintf(&b, " | %s out %.0f/s drop %d", h.Name, rate(h.Out, prev.Hops[i].Out, d), dropped(h))
		}
		for i, g := range cur.Groups {
			fmt.Fprintf(&b, " | %s delivered %.0f/s drop %d", g.ShardID, rate(g.Delivered, prev.Groups[i].Delivered, d), g.Dropped)
		}
		fmt.Fprintf(&b, " | top sent %s | top dropped %s", topList(agents.Sent), topList(merged(agents.Dropped, routers.Dropped)))
		fmt.Fprintln(v.w, b.String())
		return
	}
	var b strings.Builder
	if v.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\x1b[J", v.lines) // up and clear to the end
	}
	lines := 0
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, format+"\n", args...)
		lines++
	}
	line("t=%.1fs  sent %.0f env/s (total %d)", elapsed.Seconds(), rate(cur.Sent, prev.Sent, d), cur.Sent)
	line("%-24s %12s %12s %14s", "hop", "in/s", "out/s", "dropped total")
	for i, h := range cur.Hops {
		line("%-24s %12.0f %12.0f %14d", h.Name, rate(h.In, prev.Hops[i].In, d), rate(h.Out, prev.Hops[i].Out, d), dropped(h))
	}
	for i, g := range cur.Groups {
		for j, h := range g.Hops {
			ph := prev.Groups[i].Hops[j]
			line("%-24s %12.0f %12.0f %14d", g.ShardID+": "+h.Name, rate(h.In, ph.In, d), rate(h.Out, ph.Out, d), dropped(h))
		}
		if g.SlowConsumerEpisodes > 0 {
			line("%-24s slow-consumer episodes: %d", g.ShardID+":", g.SlowConsumerEpisodes)
		}
	}
	line("%-24s %s", "top sent (agents)", topList(agents.Sent))
	line("%-24s %s", "top dropped (agents)", topList(agents.Dropped))
	line("%-24s %s", "top dropped (routers)", topList(routers.Dropped))
	for _, n := range v.notes {
		line("%s", n)
	}
	v.lines = lines
	fmt.Fprint(v.w, b.String())
}

// topList formats heavy hitters as "id count, id count, ..." ("-" when
// there are none).
func topList(cs []limit.SourceCount) string {
	if len(cs) == 0 {
		return "-"
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s %d", c.SourceID, c.Count)
	}
	return strings.Join(parts, ", ")
}

// merged ranks the sources of both lists together (top 3).
func merged(a, b []limit.SourceCount) []limit.SourceCount {
	return limit.Merge(3, limit.Snapshot{Dropped: a}, limit.Snapshot{Dropped: b}).Dropped
}

// printHeavyHitters writes the final ledger's heavy hitters: the k
// sources that sent and that lost the most at the agents and at the
// routers (space-saving estimates: exact for sources that stayed in the
// summary, at most err too high otherwise).
func printHeavyHitters(w io.Writer, topo *harness.Topology, k int) {
	agents, routers := topo.HeavyHitters(k)
	fmt.Fprintf(w, "\nHeavy hitters (top %d of each ranking, per-instance summaries merged):\n", k)
	table := func(name string, total uint64, cs []limit.SourceCount) {
		fmt.Fprintf(w, "  %-22s total %d\n", name, total)
		for i, c := range cs {
			fmt.Fprintf(w, "    %d. %-24s %12d", i+1, c.SourceID, c.Count)
			if c.Err > 0 {
				fmt.Fprintf(w, " (at most %d too high)", c.Err)
			}
			fmt.Fprintln(w)
		}
	}
	table("agents: sent", agents.TotalSent, agents.Sent)
	table("agents: dropped", agents.TotalDropped, agents.Dropped)
	table("routers: sent", routers.TotalSent, routers.Sent)
	table("routers: dropped", routers.TotalDropped, routers.Dropped)
}
