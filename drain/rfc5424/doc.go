// Package rfc5424 formats envelopes as RFC 5424 syslog messages the way
// Cloud Foundry's syslog agent (Loggregator) does, so that drains fed by
// sluice look the same to their receivers as drains fed by Loggregator.
//
// # Message layout
//
// Every message is
//
//	<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - STRUCTURED-DATA MSG
//
// with these fields:
//
//   - PRI is 14 (user.info) for stdout logs and every metric, 11 (user.err)
//     for stderr logs.
//   - TIMESTAMP is the envelope's time in UTC with microseconds, trailing
//     zeros cut: 2024-05-01T12:00:00.123456+00:00.
//   - HOSTNAME is organization_name.space_name.app_name when the envelope
//     carries any of those tags (each part cut to its letters, digits and
//     dashes, spaces becoming dashes, at most 63 characters), otherwise the
//     hostname given to New, or "-" when that is empty.
//   - APP-NAME is the source ID ("-" when empty).
//   - PROCID of a log is [SOURCE_TYPE/INSTANCE] built from the source_type
//     tag (upper case, spaces becoming dashes) and the instance ID, or
//     [SOURCE_TYPE] without an instance ID; of a metric or event it is
//     [INSTANCE].
//   - MSGID is always "-".
//   - STRUCTURED-DATA carries the tags as [tags@47450 key="value" ...] in
//     key order; counters, gauges, timers and events put their fields in
//     an element of their own before it: [counter@47450 name= total= delta=],
//     [gauge@47450 name= value= unit=] (one message per gauge metric, in
//     name order), [timer@47450 name= start= stop=], [event@47450 title=
//     body=]. 47450 is the Cloud Foundry Foundation's enterprise number.
//   - MSG of a log is its payload with NUL bytes removed and a newline
//     added when it does not end in one; metrics and events have an empty
//     MSG followed by a newline, as in Loggregator.
//
// # Where sluice differs from Loggregator
//
// Loggregator writes some messages that RFC 5424 parsers refuse; sluice
// writes valid ones instead: a parameter value has '"', '\' and ']'
// escaped with a backslash; a tag name that is not a valid SD-NAME
// (printable ASCII without '=', ' ', ']' and '"', at most 32 characters)
// has its bad characters replaced by '_' and is cut to 32; a log without
// tags has "-" as its structured data instead of nothing; a log whose type
// is neither OUT nor ERR gets PRI 14 instead of the invalid -1.
//
// Loggregator refuses an envelope whose source ID is longer than 48
// characters or whose instance ID is longer than 128, and so does
// Formatter (the error wraps ErrUnformattable); so is an envelope with no
// message.
//
// # Framing
//
// Append writes the messages one after the other, each ending in its
// newline, as Loggregator's HTTPS drains post them. AppendOctetCounted
// frames each as "LEN SP MSG" (RFC 6587 octet counting) for syslog over
// TCP and TLS. A Formatter reuses its scratch space: with a dst of enough
// capacity, formatting allocates nothing. It is not safe for concurrent
// use; give each goroutine its own.
package rfc5424
