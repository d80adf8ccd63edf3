// Package cmdtest builds the project's commands for tests that run them as separate processes
// (to kill them, or to use one command's output in another's test).
package cmdtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex
	dir   string            // temporary directory of the binaries
	built map[string]string // package directory -> binary
)

// Build builds the command in package directory pkg (relative to the test's package, e.g. "." or
// "../sweep") once per test process and returns the binary's path. Under -short it skips the test.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs a command binary")
	}
	mu.Lock()
	defer mu.Unlock()
	if bin, ok := built[pkg]; ok {
		return bin
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "cmdtest-")
		if err != nil {
			t.Fatal(err)
		}
		dir, built = d, map[string]string{}
	}
	bin := filepath.Join(dir, filepath.Base(mustAbs(t, pkg)))
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	built[pkg] = bin
	return bin
}

func mustAbs(t testing.TB, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Main runs the tests and then removes the binaries Build made; call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	mu.Lock()
	if dir != "" {
		os.RemoveAll(dir)
	}
	mu.Unlock()
	os.Exit(code)
}
