//go:build race

package crashtest_test

// raceEnabled: the server is built with -race too, so the crash test also
// looks for data races in the real server under load.
const raceEnabled = true
