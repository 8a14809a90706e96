// Command syslogagent is a sluice syslog agent (Loggregator's syslog agent,
// the shared-nothing path): an Ingress server that a forwarder agent's
// fan-out or emitters send to, and drains that deliver each source's
// envelopes to the syslog or HTTPS drains its owner bound to it, from a
// bindings file reloaded on change. See README.md.
package main
