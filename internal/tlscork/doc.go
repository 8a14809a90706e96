// Package tlscork makes a TLS connection write each of its writes to the
// socket in one system call.
//
// crypto/tls seals a write into records of at most 16 KiB and writes each
// record to the socket by itself: a gRPC transport flushing a 32 KiB
// buffer costs two or three write calls, and on a router the Egress
// streams' writes were the largest entry of its profile. Credentials wraps
// gRPC transport credentials so that the records of one write are
// gathered (corked) and written together, one system call per write of
// the transport, at the cost of copying the sealed records once.
//
// The gathering buffer is taken from a pool for the length of one write
// and given back after it: an idle connection holds none.
package tlscork
