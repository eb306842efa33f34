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
	status, stdout, stderr := runArgs(t, "decode", mapti, "0a0000", "24"+strings.Repeat("0", 62))
	if status != 1 {
		t.Errorf("status %d, want 1 (two packets do not decode); stderr %q", status, stderr)
	}
	want := `0x0000  MAPTI dev=0x10 ev=1 lpi=8193 icid=1
0x0020  undecodable
        error: byte 0x20, packet: argument 2 holds 3 bytes; a command packet is 32 (64 hex digits)
0x0040  undecodable [2400000000000000000000000000000000000000000000000000000000000000]
        error: byte 0x40, opcode DW0[7:0]: 0x24 is not an ITS command opcode
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

// TestDecodeGICv4Packets: itsbench decode knows every V* command, GICv4.1
// fields included. The packets are those of Linux's builders
// (its_build_vmapp_cmd on GICv4.1, its_build_vmapti_cmd on GICv4.1,
// its_build_vmovi_cmd and its_build_vmovp_cmd on GICv4.0,
// its_build_vsgi_cmd, its_build_invdb_cmd), as in model's golden table,
// and one VMAPI; the last has a RES0 bit set.
func TestDecodeGICv4Packets(t *testing.T) {
	status, stdout, stderr := runArgs(t, "decode",
		"2901705608000000 0020000005000000 0000020000000080 0f00341208000000",
		"2a00000010000000 0300000005000000 03200000ff030000 0000000000000000",
		"2b00000010000000 0300000005000000 0000000000200000 0000000000000000",
		"2100000010000000 0300000006000000 0100000001200000 0000000000000000",
		"2200000007000000 0500000005000000 0000030000000000 0000000000000000",
		"2306a00003000000 0000000005000000 0000000000000000 0000000000000000",
		"2e00000000000000 0000000005000000 0000000000000000 0000000000000000",
		"2500000000000000 0000000005000080 0000000000000000 0000000000000000",
	)
	want := `0x0000  VMAPP vpeid=5 rdbase=2 vpt=0x812340000 bits=16 alloc=1 ptz=0 vconf=0x856700000 db=8192
0x0020  VMAPTI dev=0x10 ev=3 vintid=8195 vpeid=5 db=1023
0x0040  VMAPI dev=0x10 ev=3 vpeid=5 db=8192
0x0060  VMOVI dev=0x10 ev=3 vpeid=6 db=8193
0x0080  VMOVP vpeid=5 rdbase=3 seq=7 itslist=0x5
0x00a0  VSGI vpeid=5 vintid=3 prio=0xa0 group=1 enable=0 clear=1
0x00c0  INVDB vpeid=5
0x00e0  VSYNC vpeid=5
        warning: byte 0xef, DW1[63:63] (RES0): RES0 bits 0x8000000000000000 are set; ignored, as KVM ignores them
`
	if status != 0 || stdout != want || stderr != "" {
		t.Errorf("status %d, stderr %q, stdout:\n%s\nwant status 0 and:\n%s", status, stderr, stdout, want)
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
		{[]string{"decode", "-creadr", "0x7", "-cwriter", "0x20", "00"}, "-creadr 0x7: not a command queue offset (bits 0x6 are set): want a multiple of 32 below 1 MiB, or the register's value (offset in bits 19:5, bit 0 ignored)"},
		{[]string{"decode", "-creadr", "0x20", "-cwriter", "0x100000", "00"}, "-cwriter 0x100000: not a command queue offset (bits 0x100000 are set)"},
	} {
		status, _, stderr := runArgs(t, tc.args...)
		if status != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("itsbench %s: status %d, stderr %q; want 2 and %q", strings.Join(tc.args, " "), status, stderr, tc.want)
		}
	}
}

// TestDecodeDumpsOfDumps: a queue or table given as xxd or od output on
// standard input decodes as its bytes, the offset and ASCII columns left
// out, at the dump's offsets.
func TestDecodeDumpsOfDumps(t *testing.T) {
	queue := "" +
		"00000000: 0800 0000 1000 0000 0100 0000 0000 0000  ................\n" +
		"00000010: 0000 8040 0000 0080 0000 0000 0000 0000  ...@............\n" +
		"00000020: 0a00 0000 1000 0000 0100 0000 0120 0000  ............. ..\n" +
		"00000030: 0100 0000 0000 0000 0000 0000 0000 0000  ................\n"
	want := "0x0000  MAPD dev=0x10 bits=2 itt=0x40800000\n0x0020  MAPTI dev=0x10 ev=1 lpi=8193 icid=1\n"
	od := "" +
		"000000 08 00 00 00 10 00 00 00 01 00 00 00 00 00 00 00\n" +
		"000010 00 00 80 40 00 00 00 80 00 00 00 00 00 00 00 00\n" +
		"000020 0a 00 00 00 10 00 00 00 01 00 00 00 01 20 00 00\n" +
		"000030 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00\n" +
		"000040\n"
	table := "" +
		"00000000: 0000 0000 0000 0000 0000 0000 0000 0000  ................\n" +
		"*\n" +
		"00000080: 0100 1008 0000 0080 0000 0000 0000 0000  ................\n"
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"xxd", []string{"decode"}, queue, want},
		{"od -Ax -tx1", []string{"decode"}, od, want},
		{"xxd -s 0x20", []string{"decode"}, queue[len(queue)/2:], "0x0020  MAPTI dev=0x10 ev=1 lpi=8193 icid=1\n"},
		{"xxd -a of a device table", []string{"decode", "-table", "dte"}, table,
			"DeviceID   address      raw                decoded\n0x10       0x80         0x8000000008100001 DTE valid itt=0x40800000 bits=2 next=0\n"},
	} {
		status, stdout, stderr := runWithStdin(t, tc.stdin, tc.args...)
		if status != 0 || stdout != tc.want || stderr != "" {
			t.Errorf("%s | itsbench %s: status %d, stderr %q, stdout:\n%s\nwant:\n%s", tc.name, strings.Join(tc.args, " "), status, stderr, stdout, tc.want)
		}
	}
}

// TestDecodeSaysItReadsATerminal: decode reading standard input from a
// terminal says so on stderr (it would look like a hang); from a pipe it
// says nothing.
func TestDecodeSaysItReadsATerminal(t *testing.T) {
	const note = "itsbench decode: reading standard input (end it with Ctrl-D; itsbench decode -h shows the other inputs)\n"
	packet := "0a00000010000000010000000120000001000000000000000000000000000000\n"
	for _, tc := range []struct {
		args     []string
		stdin    string
		terminal bool
		says     bool
	}{
		{[]string{"decode"}, packet, true, true},
		{[]string{"decode", "-file", "-"}, "\x08", true, true},
		{[]string{"decode", "-table", "itt"}, "1=0x0000000020010001", true, true},
		{[]string{"decode"}, packet, false, false},
		{[]string{"decode", packet[:64]}, "", true, false}, // nothing read from stdin
	} {
		var out, errb bytes.Buffer
		status := run(&env{stdout: &out, stderr: &errb, stdin: strings.NewReader(tc.stdin), stdinIsTerminal: tc.terminal}, tc.args)
		if strings.HasPrefix(errb.String(), note) != tc.says || strings.Count(errb.String(), note) > 1 {
			t.Errorf("itsbench %s (terminal %v): status %d, stderr %q; want the note %v", strings.Join(tc.args, " "), tc.terminal, status, errb.String(), tc.says)
		}
	}
}

// TestDecodeSmallTexts: what decode says of input that is not what it
// looks like: values that are not numbers are not an all-zero table, a
// dump that would wrap past the top of the address space is refused, a
// register value with GITS_CREADR.Stalled marks its offset.
func TestDecodeSmallTexts(t *testing.T) {
	dump := filepath.Join(t.TempDir(), "q.bin")
	if err := os.WriteFile(dump, make([]byte, 64), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args           []string
		status         int
		stdout, stderr string
	}{
		{[]string{"decode", "-table", "dte", "zz"}, 1, "(no entries: none of the values given is a number)\n",
			"itsbench decode: line 1: \"zz\": \"zz\" is not a number (decimal, or hexadecimal with 0x) (skipped): invalid argument\n" +
				"itsbench decode: 1 problem in the input (see above); everything else was decoded\n"},
		{[]string{"decode", "-table", "dte", "0x1ffffffffffffffff"}, 1, "(no entries: none of the values given is a number)\n",
			"itsbench decode: line 1: \"0x1ffffffffffffffff\": \"0x1ffffffffffffffff\" does not fit in 64 bits (skipped): invalid argument\n" +
				"itsbench decode: 1 problem in the input (see above); everything else was decoded\n"},
		{[]string{"decode", "-table", "dte", "-file", dump}, 0, "(no entries: the table is all zero)\n", ""},
		{[]string{"decode", "-file", dump, "-base", "0xffffffffffffffff"}, 2, "",
			"itsbench decode: -base 0xffffffffffffffff: a 64-byte dump there would run past the top of the 64-bit address space\n"},
		{[]string{"decode", "-file", dump, "-base", "0xffffffffffffffc0"}, 2, "",
			"itsbench decode: -base 0xffffffffffffffc0: a 64-byte dump there would run past the top of the 64-bit address space\n"},
		{[]string{"decode", "-file", dump, "-base", "0xffffffffffffffbf"}, 0, "0x0000  (2 empty slots, to 0x0020)\n", ""},
		{[]string{"decode", "-table", "dte", "-file", dump, "-creadr", "0x20", "-cwriter", "0x20"}, 2, "",
			"itsbench decode: -creadr and -cwriter mark a command queue, not a -table\n"},
		{[]string{"decode", "-file", dump, "-creadr", "0x21", "-cwriter", "0x20"}, 0, "0x0000  (empty slot)\n0x0020  (empty slot)   <- GITS_CREADR, GITS_CWRITER\n", ""},
	} {
		status, stdout, stderr := runArgs(t, tc.args...)
		if status != tc.status || stdout != tc.stdout || stderr != tc.stderr {
			t.Errorf("itsbench %s: status %d, stdout %q, stderr %q\nwant %d, %q, %q", strings.Join(tc.args, " "), status, stdout, stderr, tc.status, tc.stdout, tc.stderr)
		}
	}
}
