// Package connlimittest checks, in a test, that a server bounds its open
// connections: it fills the bound with idle TCP connections and sees the
// next one closed by the server.
package connlimittest
