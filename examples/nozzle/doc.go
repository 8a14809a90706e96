// Command nozzle subscribes to a loggregator.v2 Egress server (a sluice
// proxy or router), counts or prints what it receives, and writes a JSON
// summary when it ends. See README.md.
package main
