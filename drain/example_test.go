package drain_test

import (
	"errors"
	"fmt"

	"github.com/sluicelog/sluice/drain"
)

// Bindings come from a text file, one "source-id drain-url [hostname]" a
// line; a binding that does not parse is refused, with a reason.
func ExampleParseBindings() {
	bs := drain.ParseBindings([]byte(`
# app guid                              drain
6f1b9a0c-1d3e-4f5a-9b7c-2e8d4a6b0c1f     syslog-tls://logs.example.com:6514
6f1b9a0c-1d3e-4f5a-9b7c-2e8d4a6b0c1f     https://collector.example.com/v1?drain-data=all
6f1b9a0c-1d3e-4f5a-9b7c-2e8d4a6b0c1f     ftp://nowhere:21
`))
	m, err := drain.NewManager()
	if err != nil {
		panic(err)
	}
	defer m.Close()
	err = m.SetBindings(bs)
	fmt.Println(len(bs), "bindings;", len(m.Stats().Drains), "drains")
	fmt.Println(errors.Is(err, drain.ErrInvalidBinding), err)
	fmt.Println(m.Stats().Refused)
	// Output:
	// 3 bindings; 2 drains
	// true drain: invalid binding: source "6f1b9a0c-1d3e-4f5a-9b7c-2e8d4a6b0c1f": drain ftp://nowhere:21: scheme must be syslog, syslog-tls or https
	// map[invalid:1]
}
