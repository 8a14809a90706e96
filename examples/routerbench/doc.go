// Command routerbench measures what the router program costs: it builds
// examples/router, starts it as its own process with mutual TLS and
// Loggregator's buffer sizes, paces BatchSender streams of 100-envelope
// batches at each offered rate, reads with one or two BatchedReceiver
// subscribers, and reports for every rate what was sent, delivered and lost,
// the router's CPU-seconds per million envelopes delivered (utime + stime
// from /proc/PID/stat) and its resident memory. It runs on Linux only.
//
//	go run ./examples/routerbench -rates 50000,200000,300000,550000,max -senders 4 -out /tmp/rb
package main
