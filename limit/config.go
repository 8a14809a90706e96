package limit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrInvalidConfig is wrapped by every error about a configuration: a
// limit out of range, or a limits file that does not parse.
var ErrInvalidConfig = errors.New("limit: invalid configuration")

// Limit is a token bucket: Rate envelopes per second on average, up to
// Burst at once. The zero Limit means no limit.
type Limit struct {
	// Rate is the sustained rate in envelopes per second; 0 means
	// unlimited.
	Rate float64
	// Burst is how many envelopes may pass at once after a quiet spell
	// (the bucket's size); 0 means max(1, ceil(Rate)).
	Burst int
}

// Unlimited reports whether l lets everything through.
func (l Limit) Unlimited() bool { return l.Rate == 0 }

func (l Limit) validate(what string) error {
	if math.IsNaN(l.Rate) || math.IsInf(l.Rate, 0) || l.Rate < 0 || l.Rate > maxRate {
		return fmt.Errorf("%w: %s: rate %v is not a number of envelopes per second in (0, %g]", ErrInvalidConfig, what, l.Rate, float64(maxRate))
	}
	if l.Burst < 0 || l.Burst > maxBurst {
		return fmt.Errorf("%w: %s: burst %d is not in [1, %d]", ErrInvalidConfig, what, l.Burst, maxBurst)
	}
	if l.Rate > 0 && float64(l.Burst)*1e9/l.Rate > math.MaxInt64/4 {
		return fmt.Errorf("%w: %s: burst %d at rate %v spans too long a time", ErrInvalidConfig, what, l.Burst, l.Rate)
	}
	return nil
}

const (
	maxRate      = 1e9 // one envelope per nanosecond
	maxBurst     = 1 << 30
	maxOverrides = 1 << 20
	maxLine      = 4096
)

// Config is the limits table: a default for every source, and overrides
// for some source IDs. The zero Config limits nothing.
type Config struct {
	// Default applies to every source without an override.
	Default Limit
	// Sources maps a source ID to its own limit.
	Sources map[string]Limit
}

// Validate checks every limit.
func (c Config) Validate() error {
	if err := c.Default.validate("default"); err != nil {
		return err
	}
	if len(c.Sources) > maxOverrides {
		return fmt.Errorf("%w: %d overrides, more than %d", ErrInvalidConfig, len(c.Sources), maxOverrides)
	}
	for id, l := range c.Sources {
		if err := l.validate(fmt.Sprintf("source %q", id)); err != nil {
			return err
		}
	}
	return nil
}

// lookup returns the limit of source id.
func (c *Config) lookup(id string) Limit {
	if l, ok := c.Sources[id]; ok {
		return l
	}
	return c.Default
}

// ParseConfig reads a limits file. The format is line based:
//
//	# sluice per-source limits: comments run from # to the end of a line
//	*             1000/s  burst 2000   # the default for every source
//	noisy-app       50/s  burst 100
//	metrics-app    200/s               # burst defaults to ceil(rate)
//	doppler      unlimited
//
// Each line that is not blank or a comment holds a source ID (any
// characters but white space and #; "*" names the default), then a rate
// (a decimal number of envelopes per second, with or without "/s", or the
// word unlimited), then optionally "burst" and a whole number of
// envelopes. A source ID may appear once; a missing default line means
// no default limit. Lines are at most 4096 bytes.
//
// Every error wraps ErrInvalidConfig and names the line.
func ParseConfig(r io.Reader) (Config, error) {
	c := Config{Sources: map[string]Limit{}}
	seenDefault := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxLine)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		bad := func(format string, args ...any) (Config, error) {
			return Config{}, fmt.Errorf("%w: line %d: %s", ErrInvalidConfig, n, fmt.Sprintf(format, args...))
		}
		if !utf8.ValidString(f[0]) {
			return bad("source ID is not valid UTF-8")
		}
		if len(f) != 2 && len(f) != 4 {
			return bad("want <source-id> <rate>[/s] [burst <n>], got %d fields", len(f))
		}
		var l Limit
		if f[1] != "unlimited" {
			rate, err := strconv.ParseFloat(strings.TrimSuffix(f[1], "/s"), 64)
			if err != nil || rate <= 0 {
				return bad("rate %q is not a positive number of envelopes per second or unlimited", f[1])
			}
			l.Rate = rate
		}
		if len(f) == 4 {
			if f[2] != "burst" {
				return bad("want burst after the rate, got %q", f[2])
			}
			if l.Unlimited() {
				return bad("an unlimited source takes no burst")
			}
			b, err := strconv.Atoi(f[3])
			if err != nil || b < 1 {
				return bad("burst %q is not a whole number of at least 1", f[3])
			}
			l.Burst = b
		}
		what := "source " + strconv.Quote(f[0])
		if f[0] == "*" {
			what = "default"
		}
		if err := l.validate(what); err != nil {
			return bad("%v", strings.TrimPrefix(err.Error(), ErrInvalidConfig.Error()+": "))
		}
		if f[0] == "*" {
			if seenDefault {
				return bad("a second default line")
			}
			seenDefault = true
			c.Default = l
			continue
		}
		if _, dup := c.Sources[f[0]]; dup {
			return bad("source %q appears twice", f[0])
		}
		if len(c.Sources) == maxOverrides {
			return bad("more than %d sources", maxOverrides)
		}
		c.Sources[f[0]] = l
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return Config{}, fmt.Errorf("%w: a line longer than %d bytes", ErrInvalidConfig, maxLine)
		}
		return Config{}, fmt.Errorf("limit: reading limits: %w", err)
	}
	return c, nil
}

// ParseFile reads the limits file at path (see ParseConfig).
func ParseFile(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("limit: %w", err)
	}
	defer f.Close()
	c, err := ParseConfig(f)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
