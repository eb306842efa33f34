package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReplayExitStatuses(t *testing.T) {
	dir := t.TempDir()
	notTrace := filepath.Join(dir, "notes.txt")
	os.WriteFile(notTrace, []byte("this is not a trace\n"), 0o644)
	empty := filepath.Join(dir, "empty.log")
	os.WriteFile(empty, nil, 0o644)
	malformed := filepath.Join(dir, "malformed.log")
	os.WriteFile(malformed, []byte("gicv3_its_cmd_mapd GICv3 ITS: command MAPD DeviceID 0x8\n"), 0o644)
	const testdata = "../../replay/testdata/"
	for _, tc := range []struct {
		args           []string
		status         int
		stdout, stderr string
	}{
		{[]string{testdata + "boot-2cpu.log"}, 0, "ok: the sim backend agrees with the trace\n", ""},
		{[]string{"-backend", "sim", testdata + "acks.log"}, 0, "2 acknowledges checked", ""},
		{[]string{testdata + "wrong-cpu.log"}, 1,
			"  line 78: gicv3_its_translation_write: MSI dev=0x8 ev=1: want LPI 8193 on CPU 0 (QEMU's table reads at lines 79-81); got CPU 0 had no LPI to acknowledge; pending: LPI 8193 on CPU 1\n1 divergence\n",
			"itsbench replay: " + testdata + "wrong-cpu.log: the sim backend diverges from the trace: see the divergences above\n"},
		{[]string{"-v", testdata + "wrong-cpu.log"}, 1, "line 46: gicv3_its_cmd_mapd: MAPD dev=0x8 bits=2 itt=0x40800000\n", ""},
		{[]string{"-lint", testdata + "lint-clean.log"}, 0, "ok: the sim backend agrees with the trace\nlint: ok: the guest's driver breaks none of the 15 rules\n", ""},
		{[]string{"-lint", testdata + "lint-missing-sync.log"}, 1,
			"ok: the sim backend agrees with the trace\nlint: 1 finding:\n  line 45: missing-sync (IHI 0069 6.3.19): MAPTI DeviceID 0x8 EventID 0x1 ICID 0x1 pINTID 0x2001 has no SYNC after it before the trace ends (line 48)\n      QEMU, and KVM,",
			"itsbench replay: " + testdata + "lint-missing-sync.log: the guest's driver misuses the ITS: see the lint findings above\n"},
		{[]string{"-lint", testdata + "wrong-cpu.log"}, 1, "1 divergence\nlint: ", "the sim backend diverges from the trace"},
		{[]string{testdata + "lint-missing-sync.log"}, 0, "ok: the sim backend agrees with the trace\n", ""},
		{[]string{filepath.Join(dir, "missing.log")}, 2, "", "itsbench replay: TRACE: stat " + filepath.Join(dir, "missing.log") + ": no such file or directory\n"},
		{[]string{notTrace}, 1, "", "itsbench replay: " + notTrace + ": 1 line, 0 of them trace events of other kinds: no GICv3 ITS or redistributor events: not a QEMU trace log"},
		{[]string{empty}, 1, "", "itsbench replay: " + empty + ": the trace is empty\n"},
		{[]string{malformed}, 1, "", "itsbench replay: " + malformed + ":1: gicv3_its_cmd_mapd: at column 37: want \" Size 0x\""},
		{nil, 2, "", "want one TRACE (a QEMU trace log, plain or gzipped), have 0 arguments"},
		{[]string{testdata + "acks.log", testdata + "boot-2cpu.log"}, 2, "", "have 2 arguments"},
		{[]string{"-backend", "qemu", testdata + "acks.log"}, 2, "", `-backend "qemu": want one of `},
		{[]string{"-frobnicate", testdata + "acks.log"}, 2, "", "flag provided but not defined: -frobnicate"},
	} {
		status, stdout, stderr := runArgs(t, append([]string{"replay"}, tc.args...)...)
		if status != tc.status || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("itsbench replay %s: status %d\nstdout:\n%s\nstderr:\n%s\nwant status %d, stdout with %q, stderr with %q",
				strings.Join(tc.args, " "), status, stdout, stderr, tc.status, tc.stdout, tc.stderr)
		}
	}
}

// TestReplayOfRealTraces: itsbench replay -lint passes on each real Linux
// trace in testdata/qemutrace, gzipped as they are kept: no divergence, no
// lint finding.
func TestReplayOfRealTraces(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/qemutrace/*.log.gz")
	if len(files) == 0 {
		t.Skip("no real traces in testdata/qemutrace")
	}
	for _, file := range files {
		status, stdout, stderr := runArgs(t, "replay", "-lint", file)
		if status != 0 || !strings.HasSuffix(stdout, "ok: the sim backend agrees with the trace\nlint: ok: the guest's driver breaks none of the 15 rules\n") {
			t.Errorf("itsbench replay %s: status %d\n%s%s", file, status, stdout, stderr)
		}
	}
}
