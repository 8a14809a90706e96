//go:build !race

package submodules_test

const raceEnabled = false
