// Package limit keeps one noisy source from costing the others their
// envelopes, at any ingress: a per-source rate limiter (Limiter) that wraps
// a diode.Buffer of marshaled Envelopes, a fair buffer for them (NewFair,
// a diode.Fair keyed by source ID), and a bounded heavy-hitter summary of
// envelopes sent and dropped per source (Summary) that both report into.
//
// A Limiter gives each source ID a token bucket: a default Limit, and
// overrides per source, loaded from a limits file (ParseConfig documents
// the format) that a program re-reads on SIGHUP with ReloadFile. The table
// of sources is bounded (WithMaxSources; idle sources give up their
// place), envelopes over the limit are dropped and counted with cause
// rate_limited, and Set allocates nothing: it reads the source ID from the
// wire bytes (SourceID).
//
// NewBuffer builds all of it from a BufferConfig (a Policy, a size,
// optional limits): the one call the agent and router programs, the
// harness and the demo make. PolicyFair sheds load from the heaviest
// sources; PolicyRing is Loggregator's diode, which drops whatever its
// reader fell behind on. A Buffer reports its drops and its heaviest
// sources as telemetry (Report): a bounded set of series, top
// ReportTopK of each ranking, tags rank and source.
//
// Wiring an ingress with all three by hand:
//
//	sum := limit.NewSummary(limit.DefaultTopK)
//	fair, _ := limit.NewFair(10_000, diode.WithTally(sum.Drops()))
//	lim, _ := limit.New(fair, cfg, limit.WithSummary(sum))
//	srv, _ := ingress.NewServer(lim)
//	// reader: router.Run(ctx, lim) or a forwarder reading lim
//	// on SIGHUP: lim.ReloadFile(path)
//	// debug endpoint: sum.Snapshot(), lim.Counts(), lim.Stats()
package limit
