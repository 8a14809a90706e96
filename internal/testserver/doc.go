// Package testserver is the machinery under sluice's test fakes
// (ingresstest, egresstest): a gRPC server on loopback that can crash
// (every connection dropped at once), come back on the same address, and
// reset its TCP connections while it stays up, plus a change signal that
// lets tests wait for a condition without polling.
package testserver
