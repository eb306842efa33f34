//go:build linux

// Command initprog is the /init of the throwaway arm64 guest that qemuexec
// boots for every test binary. qemuexec embeds this file, cross-compiles it
// (GOARCH=arm64 CGO_ENABLED=0) and puts it at /init in the initramfs next to
// /qemuexec/config.json, which says what to run.
//
// It mounts devtmpfs on /dev, proc on /proc, sysfs on /sys and tmpfs on /tmp,
// prints a marker line with the kernel's release (uname -r), changes to the
// test's package directory, runs the test binary with the console as its
// standard output and error, prints a marker line with the exit status,
// syncs and powers the machine off.
//
// It must never hang and never exit normally (the kernel panics when init
// exits): every failure is reported with an init-error marker and followed by
// the power-off. If even the power-off fails, it exits; with panic=-1 on the
// kernel command line and QEMU's -no-reboot, the panic stops QEMU.
//
// This file is a self-contained program: it uses the standard library only
// (syscall, not golang.org/x/sys) because qemuexec builds it in a scratch
// module with no dependencies. The marker and config formats are shared with
// qemuexec's console.go and initrd.go and must change together.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// configPath is where qemuexec puts the run's configuration.
const configPath = "/qemuexec/config.json"

// config mirrors guestConfig in qemuexec's initrd.go.
type config struct {
	Nonce    string   `json:"nonce"`
	Binary   string   `json:"binary"`    // guest path of the test binary
	Args     []string `json:"args"`      // arguments after the binary
	Dir      string   `json:"dir"`       // guest path of the package directory
	Env      []string `json:"env"`       // the test's whole environment
	MakeDirs []string `json:"make_dirs"` // directories to create after the mounts
}

func main() {
	cfg, err := readConfig()
	if err != nil {
		// Without the nonce no marker can be written; the host reports the
		// missing marker and shows this line among the last console lines.
		fmt.Fprintf(os.Stderr, "qemuexec init: %v\n", err)
		powerOff()
		return
	}
	status, err := run(cfg)
	if err != nil {
		fmt.Fprintf(os.Stdout, "qemuexec:%s:init-error=%s\n", cfg.Nonce, oneLine(err.Error()))
	} else {
		fmt.Fprintf(os.Stdout, "qemuexec:%s:exit-status=%d\n", cfg.Nonce, status)
	}
	powerOff()
}

func readConfig() (*config, error) {
	b, err := os.ReadFile(configPath)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	var cfg config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", configPath, err)
	}
	if cfg.Nonce == "" || cfg.Binary == "" || cfg.Dir == "" {
		return nil, fmt.Errorf("%s lacks nonce, binary or dir", configPath)
	}
	return &cfg, nil
}

// run prepares the machine and runs the test binary, returning its exit
// status (128+signal number if a signal killed it).
func run(cfg *config) (int, error) {
	mounts := []struct{ source, target, fstype string }{
		{"devtmpfs", "/dev", "devtmpfs"},
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"tmpfs", "/tmp", "tmpfs"},
	}
	for _, m := range mounts {
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			return 0, err
		}
		if err := syscall.Mount(m.source, m.target, m.fstype, 0, ""); err != nil {
			return 0, fmt.Errorf("mount %s on %s: %w", m.fstype, m.target, err)
		}
	}
	if err := os.Chmod("/tmp", 0o1777); err != nil {
		return 0, err
	}
	for _, d := range cfg.MakeDirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return 0, err
		}
	}
	// The release only names the kernel in the host's report: a kernel
	// that hides it is no reason not to run the test.
	if rel, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		fmt.Fprintf(os.Stdout, "qemuexec:%s:kernel=%s\n", cfg.Nonce, oneLine(strings.TrimSpace(string(rel))))
	}
	if err := os.Chdir(cfg.Dir); err != nil {
		return 0, err
	}

	cmd := exec.Command(cfg.Binary, cfg.Args...)
	cmd.Dir = cfg.Dir
	cmd.Env = cfg.Env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	fmt.Fprintf(os.Stdout, "qemuexec:%s:start\n", cfg.Nonce)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("cannot start the test binary: %w", err)
	}
	err := cmd.Wait()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			fmt.Fprintf(os.Stderr, "qemuexec init: the test binary was killed by signal %v\n", ws.Signal())
			return 128 + int(ws.Signal()), nil
		}
		return exitErr.ExitCode(), nil
	default:
		return 0, fmt.Errorf("waiting for the test binary: %w", err)
	}
}

// powerOff syncs and turns the machine off; QEMU then exits with status 0.
func powerOff() {
	syscall.Sync()
	err := syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
	fmt.Fprintf(os.Stderr, "qemuexec init: power off failed: %v\n", err)
	os.Exit(1)
}

func oneLine(s string) string {
	return strings.ReplaceAll(s, "\n", " ")
}
