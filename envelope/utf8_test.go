package envelope

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

// validUTF8 agrees with utf8.Valid whatever the length and wherever a
// non-ASCII byte (valid or not) sits, in the word loop or the tail.
func TestValidUTF8AgreesWithUTF8Valid(t *testing.T) {
	inserts := [][]byte{{0xc3, 0xa9}, {0xff}, {0xe2, 0x82}, {0x80}, {0xf0, 0x9f, 0x98, 0x80}}
	for n := 0; n <= 40; n++ {
		base := bytes.Repeat([]byte("a"), n)
		if !validUTF8(base) {
			t.Fatalf("ASCII of length %d refused", n)
		}
		for pos := 0; pos <= n; pos++ {
			for _, ins := range inserts {
				v := append(append(append([]byte{}, base[:pos]...), ins...), base[pos:]...)
				if got, want := validUTF8(v), utf8.Valid(v); got != want {
					t.Fatalf("validUTF8(%q) = %v, utf8.Valid says %v", v, got, want)
				}
			}
		}
	}
}
