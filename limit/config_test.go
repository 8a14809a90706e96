package limit_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/limit"
)

func TestParseConfig(t *testing.T) {
	cfg, err := limit.ParseConfig(strings.NewReader(`
# sluice per-source limits
*             1000/s  burst 2000   # the default
noisy-app       50/s  burst 100
metrics-app    200
doppler      unlimited
`))
	require.NoError(t, err)
	assert.Equal(t, limit.Config{
		Default: limit.Limit{Rate: 1000, Burst: 2000},
		Sources: map[string]limit.Limit{
			"noisy-app":   {Rate: 50, Burst: 100},
			"metrics-app": {Rate: 200},
			"doppler":     {},
		},
	}, cfg)
	require.NoError(t, cfg.Validate())

	empty, err := limit.ParseConfig(strings.NewReader("\n# nothing\n"))
	require.NoError(t, err)
	assert.True(t, empty.Default.Unlimited())
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"bad rate", "app fast", "line 1: rate \"fast\""},
		{"zero rate", "app 0", "line 1: rate \"0\""},
		{"negative rate", "app -5/s", "rate \"-5/s\""},
		{"infinite rate", "app inf", "rate +Inf"},
		{"bad burst", "x 1\napp 5 burst many", "line 2: burst \"many\""},
		{"zero burst", "app 5 burst 0", "burst \"0\""},
		{"not burst", "app 5 bust 3", "want burst"},
		{"fields", "app 5 burst", "got 3 fields"},
		{"unlimited burst", "app unlimited burst 3", "takes no burst"},
		{"duplicate", "app 1\napp 2", "line 2: source \"app\" appears twice"},
		{"two defaults", "* 1\n* 2", "second default"},
		{"long line", "app " + strings.Repeat("1", 5000), "longer than 4096"},
		{"bad utf8", "\xff 1", "UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := limit.ParseConfig(strings.NewReader(tc.in))
			require.ErrorIs(t, err, limit.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// FuzzParseConfig: ParseConfig never panics; what it accepts validates,
// and reads back the same from the file written from it.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		"* 1000/s burst 2000\nnoisy 50/s burst 100\n",
		"doppler unlimited # comment\n",
		"app 0.5\n\n#\n",
		"* 1e3 burst 7\n",
		"app 5 burst\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		cfg, err := limit.ParseConfig(strings.NewReader(in))
		if err != nil {
			require.ErrorIs(t, err, limit.ErrInvalidConfig)
			return
		}
		require.NoError(t, cfg.Validate())
		var b strings.Builder
		write := func(id string, l limit.Limit) {
			b.WriteString(id + " ")
			if l.Unlimited() {
				b.WriteString("unlimited\n")
				return
			}
			b.WriteString(strconv.FormatFloat(l.Rate, 'g', -1, 64))
			if l.Burst > 0 {
				b.WriteString(" burst " + strconv.Itoa(l.Burst))
			}
			b.WriteString("\n")
		}
		if cfg.Default != (limit.Limit{}) {
			write("*", cfg.Default)
		}
		for id, l := range cfg.Sources {
			write(id, l)
		}
		again, err := limit.ParseConfig(strings.NewReader(b.String()))
		require.NoError(t, err, b.String())
		assert.Equal(t, cfg, again)
	})
}
