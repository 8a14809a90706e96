package cli

import (
	"flag"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
)

// Byte sizes.
const (
	KiB int64 = 1 << 10
	MiB int64 = 1 << 20
	GiB int64 = 1 << 30
)

// MemoryBudget is a program's -memory-budget: the bytes its buffers may
// hold together, from which the program derives its buffers' sizes in
// bytes, and Go's soft memory limit.
type MemoryBudget struct {
	Bytes int64
}

// Flags registers -memory-budget with the program's default.
func (m *MemoryBudget) Flags(fs *flag.FlagSet, def int64, holds string) {
	m.Bytes = def
	fs.Func("memory-budget", fmt.Sprintf("memory the program plans for, in bytes with an optional suffix (KiB, MiB, GiB; K, M, G are the same), default %s: %s; also Go's soft memory limit", FormatBytes(def), holds),
		func(s string) error {
			n, err := ParseBytes(s)
			if err == nil && n < 16*MiB {
				err = fmt.Errorf("%s is below the 16MiB a program needs", s)
			}
			if err != nil {
				return err
			}
			m.Bytes = n
			return nil
		})
}

// SetMemoryLimit makes the budget Go's soft memory limit (runtime/debug):
// the garbage collector works harder as the heap nears it instead of
// letting it grow to twice what is live. Programs call it; the library
// never does.
func (m *MemoryBudget) SetMemoryLimit() { debug.SetMemoryLimit(m.Bytes) }

// Share returns num/den of the budget.
func (m *MemoryBudget) Share(num, den int64) int64 { return m.Bytes / den * num }

// ParseBytes reads a size: a whole number of bytes with an optional
// suffix, binary in every case: KiB or K, MiB or M, GiB or G (B alone
// means bytes).
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffixes []string
		mult     int64
	}{
		{[]string{"GiB", "G", "GB"}, GiB}, {[]string{"MiB", "M", "MB"}, MiB}, {[]string{"KiB", "K", "KB"}, KiB}, {[]string{"B"}, 1},
	} {
		found := false
		for _, suf := range u.suffixes {
			if rest, ok := strings.CutSuffix(t, suf); ok {
				t, mult, found = strings.TrimSpace(rest), u.mult, true
				break
			}
		}
		if found {
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: want bytes with an optional suffix, such as 512MiB", s)
	}
	return n * mult, nil
}

// FormatBytes writes n with the largest binary suffix that divides it.
func FormatBytes(n int64) string {
	switch {
	case n != 0 && n%GiB == 0:
		return strconv.FormatInt(n/GiB, 10) + "GiB"
	case n != 0 && n%MiB == 0:
		return strconv.FormatInt(n/MiB, 10) + "MiB"
	case n != 0 && n%KiB == 0:
		return strconv.FormatInt(n/KiB, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10)
}
