package discoveryflag

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/discovery"
)

func TestParseRouters(t *testing.T) {
	eps, err := ParseRouters("10.0.0.5:8082@z1, 10.0.0.6:8082,[::1]:9000@z2")
	require.NoError(t, err)
	assert.Equal(t, []discovery.Endpoint{
		{Addr: "10.0.0.5:8082", Zone: "z1"},
		{Addr: "10.0.0.6:8082"},
		{Addr: "[::1]:9000", Zone: "z2"},
	}, eps)
	for _, bad := range []string{"", " , ", "10.0.0.5", "10.0.0.5:8082,nohost@z1"} {
		_, err := ParseRouters(bad)
		assert.Error(t, err, "%q", bad)
	}
}
