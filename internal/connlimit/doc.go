// Package connlimit bounds the connections a server holds open at once: a
// Limit wraps listeners (any number of them share its count), and a
// connection accepted beyond the bound is closed at once and counted, so
// thousands of idle connections cannot pile up in a server.
package connlimit
