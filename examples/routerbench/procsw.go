package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
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
		f, err := procFields(path, "voluntary_ctxt_switches")
		if errors.Is(err, fs.ErrNotExist) {
			continue // the thread ended meanwhile
		}
		if err != nil {
			return 0, err
		}
		n += f["voluntary_ctxt_switches"]
	}
	return n, nil
}
