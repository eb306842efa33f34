package main

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// initSource is the /init program. qemuexec carries its source rather than a
// binary so that it needs nothing from the repository at run time.
//
//go:embed internal/initprog/main.go
var initSource []byte

// initGoMod is the go.mod of the scratch module /init is built in.
const initGoMod = "module qemuexec/initprog\n\ngo 1.21\n"

// initProgram returns the path of the arm64 /init binary in cacheDir, building
// it with the go command on PATH if the cache has no binary for this source
// and Go version. The cache key is the SHA-256 of both.
func initProgram(cacheDir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("building /init needs the go command: %w", err)
	}
	env := buildEnv(os.Environ())
	verCmd := exec.Command(goBin, "env", "GOVERSION")
	verCmd.Env = env
	ver, err := verCmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	sum := sha256.New()
	fmt.Fprintf(sum, "%s\x00%s\x00%s\x00", bytes.TrimSpace(ver), initGoMod, "linux/arm64")
	sum.Write(initSource)
	out := filepath.Join(cacheDir, "init-"+hex.EncodeToString(sum.Sum(nil))[:24])
	if fi, err := os.Stat(out); err == nil && fi.Mode().IsRegular() {
		return out, nil
	}

	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	work, err := os.MkdirTemp(cacheDir, "initbuild-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	if err := os.WriteFile(filepath.Join(work, "go.mod"), []byte(initGoMod), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(work, "main.go"), initSource, 0o644); err != nil {
		return "", err
	}
	build := exec.Command(goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", "init", ".")
	build.Dir = work
	build.Env = env
	if msg, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building /init: %w\n%s", err, msg)
	}
	// Rename is atomic: concurrent qemuexec runs (go test -p) may race here
	// and both win.
	if err := os.Rename(filepath.Join(work, "init"), out); err != nil {
		return "", err
	}
	return out, nil
}

// buildEnv is env with the variables that would change the /init build
// replaced: a static linux/arm64 binary, no workspace, no user GOFLAGS, and
// no toolchain switch.
func buildEnv(env []string) []string {
	drop := map[string]bool{"GOOS": true, "GOARCH": true, "CGO_ENABLED": true, "GOFLAGS": true,
		"GOWORK": true, "GOTOOLCHAIN": true, "GO111MODULE": true, "GOARM64": true}
	var out []string
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); !drop[k] {
			out = append(out, kv)
		}
	}
	return append(out, "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off",
		"GOTOOLCHAIN=local", "GO111MODULE=on")
}
