// Command proxy is a sluice proxy (Loggregator's reverse log proxy): every
// nozzle that subscribes to its Egress server or gateway is served by a
// Firehose over all the routers discovery knows. See README.md.
package main
