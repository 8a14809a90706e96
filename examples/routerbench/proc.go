package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// clockTick is the kernel's USER_HZ, the unit of utime and stime in
// /proc/PID/stat: 100 on every Linux architecture Go supports.
const clockTick = 100

// procCPU returns the CPU time (user + system) process pid has used.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// fields are counted after its closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("routerbench: unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("routerbench: short /proc/%d/stat", pid)
	}
	var ticks uint64
	for _, s := range f[11:13] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("routerbench: /proc/%d/stat: %w", pid, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / clockTick, nil
}

// procFields reads the "key: value" lines of a /proc file (status, io)
// and returns the values of the keys asked for, as numbers (a " kB" unit
// dropped); a key missing from the file is an error.
func procFields(path string, keys ...string) (map[string]uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := make(map[string]uint64, len(keys))
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || !slices.Contains(keys, k) {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("routerbench: %s %s: %w", path, k, err)
		}
		out[k] = n
	}
	for _, k := range keys {
		if _, ok := out[k]; !ok {
			return nil, fmt.Errorf("routerbench: %s has no %s", path, k)
		}
	}
	return out, nil
}

// procRSS returns the current (VmRSS) and peak (VmHWM) resident set size of
// process pid in bytes.
func procRSS(pid int) (rss, peak uint64, err error) {
	f, err := procFields(fmt.Sprintf("/proc/%d/status", pid), "VmRSS", "VmHWM")
	if err != nil {
		return 0, 0, err
	}
	return f["VmRSS"] << 10, f["VmHWM"] << 10, nil
}

// procSyscalls returns how many read-type and write-type system calls
// process pid (all its threads) has made: syscr and syscw from
// /proc/PID/io, which count read, readv, pread and recv... as reads and
// write, writev, pwrite and send... as writes (not epoll_wait, futex or
// the scheduler's other calls).
func procSyscalls(pid int) (reads, writes uint64, err error) {
	f, err := procFields(fmt.Sprintf("/proc/%d/io", pid), "syscr", "syscw")
	if err != nil {
		return 0, 0, err
	}
	return f["syscr"], f["syscw"], nil
}
