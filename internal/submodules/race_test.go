//go:build race

package submodules_test

const raceEnabled = true
