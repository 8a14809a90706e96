// Package syslog holds no code: its tests deliver envelopes through
// sluice's drain package to the OpenTelemetry Collector's syslog receiver
// (collector-contrib's syslogreceiver, RFC 5424 with RFC 6587 octet
// counting over TCP and TLS), run inside the test, and compare what the
// receiver parsed with what was sent, field by field.
package syslog
