// Command etcd runs a single-member etcd embedded in the program, so that
// the example programs' -etcd flags have something to talk to without
// building or installing etcd. See README.md.
package main
