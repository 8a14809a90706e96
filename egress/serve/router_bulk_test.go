package serve

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/diode"
)

// countingFair is a diode.Fair that counts the reads Run makes of it.
type countingFair struct {
	*diode.Fair[[]byte]
	single, bulk int
}

func (f *countingFair) TryNext() ([]byte, bool) {
	f.single++
	return f.Fair.TryNext()
}

func (f *countingFair) TryNextN(dst [][]byte, n int) [][]byte {
	f.bulk++
	return f.Fair.TryNextN(dst, n)
}

// Run takes from a buffer that hands over bursts (a fair buffer) one
// burst per synchronization, and routes every envelope of it.
func TestRunTakesBurstsInBulk(t *testing.T) {
	r := routerTestNew(t)
	sub := routerTestSubscribe(t, r, routerTestReq("A", routerTestLogs("")))
	f, err := diode.NewFair(1000, func([]byte) string { return "one source" })
	require.NoError(t, err)
	in := &countingFair{Fair: f}
	const total = 3*runBurst + 5
	envs := runTestDrained(t, r, in, total)

	// Run's drain after ctx ends: bursts of runBurst taken in bulk, then
	// one more bulk read finding nothing.
	assert.Equal(t, 0, in.single)
	assert.Equal(t, 5, in.bulk)
	assert.Equal(t, envs, routerTestDrain(sub))
	st := r.Stats()
	assert.Equal(t, uint64(total), st.Egress)
	assert.Equal(t, uint64(0), st.Dropped.Total())
	assert.Equal(t, diode.Stats{Written: total, Read: total}, in.Stats())
}

// runTestDrained writes n log envelopes into in, then runs r over in with
// a context already ended, so that Run publishes what in holds and
// returns; it returns the envelopes in the order written.
func runTestDrained(t *testing.T, r *Router, in diode.Buffer[[]byte], n int) [][]byte {
	t.Helper()
	envs := make([][]byte, n)
	for i := range envs {
		envs[i] = serverTestLog(t, i)
		in.Set(envs[i])
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, r.Run(ctx, in), context.Canceled)
	return envs
}
