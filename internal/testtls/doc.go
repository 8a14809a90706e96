// Package testtls generates a throwaway certificate authority and
// certificates for tests and demos: real TLS and mutual TLS over loopback,
// with nothing read from disk.
package testtls
