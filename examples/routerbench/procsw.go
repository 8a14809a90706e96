package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procSwitches returns how many times the threads of process pid have
// given up the CPU of their own accord (voluntary_ctxt_switches in
// /proc/PID/task/TID/status, summed over the threads that exist now): a
// Go thread does so when it finds no goroutine to run and sleeps in a
// futex or in epoll_wait, so the count follows the goroutine hand-offs
// that wake a thread (one sleep, one wake) rather than the CPU they cost.
// Threads that ended took their counts with them (Go's rarely end).
func procSwitches(pid int) (uint64, error) {
	dirs, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil {
		return 0, err
	}
	if len(dirs) == 0 {
		return 0, fmt.Errorf("routerbench: process %d has no threads in /proc", pid)
	}
	var n uint64
	for _, path := range dirs {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the thread ended meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok || k != "voluntary_ctxt_switches" {
				continue
			}
			c, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("routerbench: %s: %w", path, err)
			}
			n += c
		}
	}
	return n, nil
}
