package main

import (
	"bytes"
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
	// The LPI property table of the lint traces' guest (GICR_PROPBASER
	// 0x425c078f), as pmemsave would dump it: every LPI disabled.
	props := filepath.Join(dir, "props.bin")
	os.WriteFile(props, bytes.Repeat([]byte{0xa2}, 1<<16-8192), 0o644)
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
		{[]string{"-verbose", testdata + "wrong-cpu.log"}, 1, "line 46: gicv3_its_cmd_mapd: MAPD dev=0x8 bits=2 itt=0x40800000\n", ""},
		{[]string{"-lint", testdata + "lint-clean.log"}, 0, "ok: the sim backend agrees with the trace\nlint: ok: the guest's driver breaks none of the 15 rules checked\nlint: not checked, for lack of a memory dump (-mem):\n  missing-inv: needs the LPI property table's dump\n", ""},
		{[]string{"-lint", "-mem", props + "@0x425c0000", testdata + "lint-msi-disabled-lpi.log"}, 1,
			"from memory dumps:\n  LPI property table: from the dump " + props + " (0x425c0000-0x425cdfff), at 0x425c0000 (16 INTID bits), as it was when dumped\n",
			"the guest's driver misuses the ITS"},
		{[]string{"-lint", "-mem", props + "@0x425c0000", testdata + "lint-msi-disabled-lpi.log"}, 1, "\n  line 59: msi-disabled-lpi (IHI 0069 5.1.1, 6.3.7): MSI of event 1 of device 0x8 targets LPI 8193", ""},
		{[]string{"-pmemsave", testdata + "lint-clean.log"}, 0, "pmemsave 0x42590000 65536 its-queue.bin\npmemsave 0x425c0000 57344 its-props.bin\n",
			"then: itsbench replay -lint -mem its-queue.bin@0x42590000 -mem its-props.bin@0x425c0000 " + testdata + "lint-clean.log\n"},
		{[]string{"-pmemsave", notTrace}, 1, "", "not a QEMU trace log"},
		{[]string{"-mem", props, testdata + "acks.log"}, 2, "", "invalid value \"" + props + "\" for flag -mem: replay: " + props + " has no @GPA, and it is not a list of FILE@GPA dumps (it is not text): give the address the dump starts at, " + props + "@GPA\n"},
		{[]string{"-mem", props + "@0xzz", testdata + "acks.log"}, 2, "", "GPA \"0xzz\" is not a number"},
		{[]string{"-mem", filepath.Join(dir, "nosuch.bin") + "@0x0", testdata + "acks.log"}, 2, "", "for flag -mem: stat " + filepath.Join(dir, "nosuch.bin") + ": no such file or directory"},
		{[]string{"-mem", props + "@0x1000", "-mem", props + "@0x2000", testdata + "acks.log"}, 1, "", "overlaps"},
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
		// With the capture's memory dumps beside the trace, every rule is
		// checked.
		if sidecar := strings.TrimSuffix(file, ".log.gz") + ".mem"; fileExists(sidecar) {
			status, stdout, stderr := runArgs(t, "replay", "-lint", "-mem", sidecar, file)
			if status != 0 || !strings.HasSuffix(stdout, "ok: the sim backend agrees with the trace\nlint: ok: the guest's driver breaks none of the 18 rules checked\n") || !strings.Contains(stdout, "exactly as the queue dump") {
				t.Errorf("itsbench replay -mem %s %s: status %d\n%s%s", sidecar, file, status, stdout, stderr)
			}
			continue
		}
		status, stdout, stderr := runArgs(t, "replay", "-lint", file)
		if status != 0 || !strings.Contains(stdout, "ok: the sim backend agrees with the trace\nlint: ok: the guest's driver breaks none of the 15 rules checked\n") {
			t.Errorf("itsbench replay %s: status %d\n%s%s", file, status, stdout, stderr)
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
