package harness

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A loss on a stream hop where no stream broke is not within any bound:
// the bound comes from the broken streams, not from the loss it bounds (it
// used to be the loss measured, so such a loss always balanced).
func TestStreamLossBoundIsNotTheLoss(t *testing.T) {
	lost, bound := streamHop(1000, 900, 0)
	assert.Equal(t, int64(100), lost)
	assert.Equal(t, uint64(0), bound)
	g := GroupReport{Delivered: 900}
	g.addHop(Hop{Lost: lost, Bound: bound})
	assert.False(t, g.Balanced(1000), "100 lost in a stream that never broke")

	// One broken stream may take up to StreamLossPerBreak with it.
	lost, bound = streamHop(1000, 900, 1)
	g = GroupReport{Delivered: 900}
	g.addHop(Hop{Lost: lost, Bound: bound})
	assert.True(t, g.Balanced(1000))
	lost, bound = streamHop(2000, 1000, 1)
	g = GroupReport{Delivered: 1000}
	g.addHop(Hop{Lost: lost, Bound: bound})
	assert.False(t, g.Balanced(2000), "1000 lost in one broken stream is more than it can hold")
}

// Acknowledged batches sent again after a failure may arrive twice: a hop
// whose receiver counted more than its sender sent has duplicates, not a
// negative loss, and books that close with them are balanced (they used to
// print NOT BALANCED).
func TestDuplicatesBalanceAndPrint(t *testing.T) {
	routers := Hop{Name: "routers", In: 1050, Out: 1050, Lost: -50, DupBound: 100}
	r := Report{Sent: 1000, Emitted: 1000, Hops: []Hop{routers}}
	g := GroupReport{ShardID: "a", Nozzles: 1, Delivered: 1040, Dropped: 10}
	g.addHop(routers)
	assert.Equal(t, int64(0), g.Lost)
	assert.Equal(t, uint64(50), g.Duplicates)
	assert.True(t, g.Balanced(r.Sent))
	r.Groups = []GroupReport{g}
	assert.True(t, r.Balanced())
	var out bytes.Buffer
	r.Print(&out)
	assert.Contains(t, out.String(), "duplicates 50 (bound 100)")
	assert.Contains(t, out.String(), "= 1000 of 1000 sent: balanced")
	assert.NotContains(t, out.String(), "NOT BALANCED")

	// More duplicates than the retried batches can carry do not balance.
	g = GroupReport{Delivered: 1040, Dropped: 10}
	g.addHop(Hop{Lost: -50, DupBound: 40})
	assert.False(t, g.Balanced(1000))
	// Nor does a sum that does not close.
	g = GroupReport{Delivered: 1030, Dropped: 10}
	g.addHop(routers)
	assert.False(t, g.Balanced(1000))
}
