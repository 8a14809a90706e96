package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
)

var csvHeader = []string{
	"offered_rate", "run", "senders", "subscribers", "split", "window_s", "offered", "sender_dropped", "offered_loss", "sent", "sent_rate", "expected", "delivered",
	"loss", "ingress_dropped", "egress_dropped", "router_cpu_s", "cpu_s_per_million", "rss_bytes", "peak_rss_bytes", "gcs", "ingress_waits",
	"syscall_reads", "syscall_writes", "voluntary_switches",
}

// WriteCSV writes one row per run.
func WriteCSV(w io.Writer, steps []Step) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	f := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	for _, s := range steps {
		row := []string{rateName(s.Rate), strconv.Itoa(s.Run), strconv.Itoa(s.Senders), strconv.Itoa(s.Subscribers), strconv.FormatBool(s.Split),
			f(s.Window.Seconds(), 3), u(s.Offered), u(s.SenderDropped), f(s.OfferedLoss(), 6), u(s.Sent), f(s.SentRate(), 0), u(s.Expected), u(s.Delivered),
			f(s.Loss(), 6), u(s.IngressDropped), u(s.EgressDropped), f(s.CPU.Seconds(), 2), f(s.CPUPerMillion(), 3),
			u(s.RSS), u(s.PeakRSS), u(s.GCs), u(s.Waits), u(s.SysReads), u(s.SysWrites), u(s.Switches)}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteHeader prints the column names of WriteLine.
func WriteHeader(w io.Writer) {
	fmt.Fprintf(w, "%8s %3s %10s %10s %10s %10s %8s %9s %8s %9s %9s %7s %9s %8s %8s %8s %7s %7s %7s\n",
		"offered", "run", "offered#", "snd-drop", "sent/s", "sent", "delivered", "loss", "loss/off", "in-drop", "sub-drop", "cpu-s", "cpu-s/M", "rss-MiB", "peak-MiB", "waits", "rd/k", "wr/k", "csw/k")
}

// WriteLine prints one run.
func WriteLine(w io.Writer, s Step) {
	fmt.Fprintf(w, "%8s %3d %10d %10d %10.0f %10d %10d %7.3f%% %7.3f%% %9d %9d %7.2f %9.3f %8.1f %8.1f %8d %7.2f %7.2f %7.2f\n",
		rateName(s.Rate), s.Run, s.Offered, s.SenderDropped, s.SentRate(), s.Sent, s.Delivered, 100*s.Loss(), 100*s.OfferedLoss(), s.IngressDropped, s.EgressDropped,
		s.CPU.Seconds(), s.CPUPerMillion(), float64(s.RSS)/(1<<20), float64(s.PeakRSS)/(1<<20), s.Waits, s.PerThousand(s.SysReads), s.PerThousand(s.SysWrites), s.PerThousand(s.Switches))
}
