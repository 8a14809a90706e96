package limit

import "unsafe"

// unsafeString returns a string sharing b's memory; b is never modified
// while the string is in use.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
