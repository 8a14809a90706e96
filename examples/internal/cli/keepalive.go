package cli

import (
	"flag"
	"time"
)

// Keepalive holds a program's -router-keepalive and
// -router-keepalive-timeout flags: how long a connection to a router may
// stay silent before the program pings it, and how long the ping may go
// unanswered before the connection is closed (and its streams with it). A
// router that stalls without closing its connections (SIGSTOP, a hung host)
// is noticed after about interval + timeout; grpc-go raises an interval
// below 10s to 10s.
type Keepalive struct {
	Interval, Timeout time.Duration
}

// Flags registers the flags with the library's defaults as the flags'
// defaults.
func (k *Keepalive) Flags(fs *flag.FlagSet, interval, timeout time.Duration) {
	fs.DurationVar(&k.Interval, "router-keepalive", interval, "ping a router connection after this long without activity (grpc-go raises less than 10s to 10s)")
	fs.DurationVar(&k.Timeout, "router-keepalive-timeout", timeout, "close a router connection whose ping is not answered within this long")
}
