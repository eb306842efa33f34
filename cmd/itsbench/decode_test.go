package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gicits/gicits/model"
)

func runWithStdin(t *testing.T, stdin string, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	status = run(&env{stdout: &out, stderr: &errb, stdin: strings.NewReader(stdin)}, args)
	return status, out.String(), errb.String()
}

func TestDecodePacketsFromArgumentsAndStdin(t *testing.T) {
	mapti := "0a00000010000000010000000120000001000000000000000000000000000000"
	status, stdout, stderr := runArgs(t, "decode", mapti, "0a0000", "29"+strings.Repeat("0", 62))
	if status != 1 {
		t.Errorf("status %d, want 1 (two packets do not decode); stderr %q", status, stderr)
	}
	want := `0x0000  MAPTI dev=0x10 ev=1 lpi=8193 icid=1
0x0020  undecodable
        error: byte 0x20, packet: argument 2 holds 3 bytes; a command packet is 32 (64 hex digits)
0x0040  undecodable [2900000000000000000000000000000000000000000000000000000000000000]
        error: byte 0x40, opcode DW0[7:0]: VMAPP (opcode 0x29): GICv4 command, known but not supported
`
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}

	// xxd -p style: 30 bytes a line, one typo in the second packet.
	text := mapti[:60] + "\n" + mapti[60:] + "0500000000q000000\n" + strings.Repeat("0", 48) + "\n"
	status, stdout, stderr = runWithStdin(t, text, "decode")
	if status != 1 || !strings.Contains(stderr, `line 2 col 15: 'q' is not a hexadecimal digit`) {
		t.Errorf("status %d, stderr %q", status, stderr)
	}
	if !strings.HasPrefix(stdout, "0x0000  MAPTI dev=0x10 ev=1 lpi=8193 icid=1\n0x0020  SYNC rdbase=0\n") {
		t.Errorf("stdout:\n%s", stdout)
	}
}

func TestDecodeQueueAndTablesFromAMemoryDump(t *testing.T) {
	const base = 0x40000000
	mem := make([]byte, 0x100000)
	put := func(addr uint64, v uint64) { binary.LittleEndian.PutUint64(mem[addr-base:], v) }
	for i, c := range []model.Command{
		model.MAPD{DeviceID: 0x10, Size: 4, ITTAddr: 0x40070000, Valid: true},
		model.MAPC{ICID: 1, RDbase: 1, Valid: true},
	} {
		p, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		copy(mem[i*32:], p[:])
	}
	put(0x40010000+8*0x10, 0x800000000800E004)
	put(0x40070008, 0x0001000020010001)
	put(0x40070010, 0x0000000020020000)
	dump := filepath.Join(t.TempDir(), "mem.bin")
	if err := os.WriteFile(dump, mem, 0o644); err != nil {
		t.Fatal(err)
	}

	status, stdout, stderr := runArgs(t, "decode", "-file", dump, "-base", "0x4000_0000", "-size", "0x100", "-creadr", "0x40", "-cwriter", "0x40")
	want := "0x0000  MAPD dev=0x10 bits=5 itt=0x40070000\n0x0020  MAPC icid=1 rdbase=1\n0x0040  (6 empty slots, to 0x00e0)   <- GITS_CREADR, GITS_CWRITER\n"
	if status != 0 || stdout != want {
		t.Errorf("queue: status %d stderr %q\n%s\nwant:\n%s", status, stderr, stdout, want)
	}
	status, stdout, _ = runArgs(t, "decode", "-table", "dte", "-file", dump, "-base", "0x40000000", "-at", "0x40010000", "-size", "0x10000")
	if status != 0 || !strings.Contains(stdout, "0x10       0x40010080   0x800000000800e004 DTE valid itt=0x40070000 bits=5 next=0\n") {
		t.Errorf("device table: status %d\n%s", status, stdout)
	}
	status, stdout, _ = runArgs(t, "decode", "-table", "itt", "-file", dump, "-base", "0x40000000", "-at", "0x40070000", "-size", "256")
	if status != 0 || !strings.Contains(stdout, "1          0x40070008   0x0001000020010001 ITE lpi=8193 icid=1 next=1\n2          0x40070010   0x0000000020020000 ITE lpi=8194 icid=0 next=0\n") {
		t.Errorf("ITT: status %d\n%s", status, stdout)
	}
}

func TestDecodeUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"decode", "-table", "xyz", "1"}, `unknown table kind "xyz" (want dte, itt, cte or l1)`},
		{[]string{"decode", "-file", "/nonexistent/dump"}, "-file: open /nonexistent/dump"},
		{[]string{"decode", "-base", "0x4000", "00"}, "-base, -at and -size apply to -file dumps only"},
		{[]string{"decode", "-creadr", "0x20", "00"}, "-creadr and -cwriter go together"},
		{[]string{"decode", "-at", "nope"}, `-at "nope": want a number`},
	} {
		status, _, stderr := runArgs(t, tc.args...)
		if status != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("itsbench %s: status %d, stderr %q; want 2 and %q", strings.Join(tc.args, " "), status, stderr, tc.want)
		}
	}
}
