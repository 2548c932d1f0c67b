package conformance

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Build compiles the plugin package pkg (a directory or import path) with
// the go command on PATH into a new temporary directory, and returns the
// executable's path and a function that removes it. A plugin's TestMain
// calls it once, then hands the path to Run.
func Build(pkg, name string) (path string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", name+"-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	path = filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", path, pkg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("conformance: go build %s: %w", pkg, err)
	}
	return path, cleanup, nil
}
