package script_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/script"
)

func runString(t *testing.T, src string, opts script.Options) *script.Result {
	t.Helper()
	s, err := script.Parse("t.its", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if opts.Backend == "" {
		opts.Backend = "sim"
	}
	return script.Run(s, opts)
}

func failures(res *script.Result) string {
	var lines []string
	for _, f := range res.Failures {
		lines = append(lines, f.String())
	}
	return strings.Join(lines, "\n")
}

// TestRunReportsWhatWasSeen checks the failure lines: file:line, the
// statement, and what was seen instead.
func TestRunReportsWhatWasSeen(t *testing.T) {
	res := runString(t, `cpus 2
lpi 8193 prio=0xa0 enabled
enablelpis all
mapc icid=1 cpu=1
mapd dev=0x10 bits=5
mapti dev=0x10 ev=1 lpi=8193 icid=1
msi dev=0x10 ev=1
expect ack cpu=0 lpi=8193
expect pending cpu=0 lpi=8193
expect msi blocked
expect ack cpu=1 lpi=8193
`, script.Options{})
	want := strings.Join([]string{
		"t.its:8: expect ack cpu=0 lpi=8193: got 1023 (spurious)",
		"t.its:9: expect pending cpu=0 lpi=8193: got 8193 not pending (pending: nothing)",
		"t.its:10: expect msi blocked: got delivered",
	}, "\n")
	if got := failures(res); got != want {
		t.Errorf("failures:\n%s\nwant:\n%s", got, want)
	}
	if res.Passed != 1 || res.Failed != 3 || res.Skipped != 0 {
		t.Errorf("counts %d/%d/%d, want 1 passed, 3 failed, 0 skipped", res.Passed, res.Failed, res.Skipped)
	}
}

// TestRunUnexpectedErrorEndsTheScript checks that a command error no
// expectation claims fails the script at that line.
func TestRunUnexpectedErrorEndsTheScript(t *testing.T) {
	res := runString(t, `mapc icid=0 cpu=0
mapti dev=0x10 ev=1 lpi=8193 icid=0
int dev=0x10 ev=1
expect idle cpu=0
expect idle cpu=0
`, script.Options{})
	if len(res.Failures) != 1 || res.Failures[0].Pos.Line != 2 || !strings.Contains(res.Failures[0].Msg, "unexpected command error") || !strings.Contains(res.Failures[0].Msg, "E_ITS_MAPTI_UNMAPPED_DEVICE") {
		t.Fatalf("failures: %s", failures(res))
	}
	if res.NotRun != 2 {
		t.Errorf("NotRun = %d, want 2", res.NotRun)
	}
}

// TestRunKeepGoing: with KeepGoing an unexpected command error is a
// failure and the script goes on, so a later failure shows too.
func TestRunKeepGoing(t *testing.T) {
	res := runString(t, `mapc icid=0 cpu=0
mapti dev=0x10 ev=1 lpi=8193 icid=0
expect idle cpu=0
expect ack cpu=0 lpi=8193
`, script.Options{KeepGoing: true})
	want := "t.its:2: mapti dev=0x10 ev=1 lpi=8193 icid=0: unexpected command error: command at queue offset 0x20 (MAPTI dev=0x10 ev=1 lpi=8193 icid=0): E_ITS_MAPTI_UNMAPPED_DEVICE (0x010a04): device 0x10 is not mapped\n" +
		"t.its:4: expect ack cpu=0 lpi=8193: got 1023 (spurious)"
	if got := failures(res); got != want {
		t.Errorf("failures:\n%s\nwant:\n%s", got, want)
	}
	if res.Passed != 1 || res.NotRun != 0 {
		t.Errorf("passed %d, not run %d; want 1 and 0", res.Passed, res.NotRun)
	}
}

// TestRunAlternatives: expect error any, E_A|E_B, and ack lpi=A|B accept
// any of what they name, and fail naming what came instead.
func TestRunAlternatives(t *testing.T) {
	res := runString(t, `cpus 1
lpi 8192..8193 prio=0xa0 enabled
enablelpis all
mapc icid=0 cpu=0
mapti dev=0x10 ev=1 lpi=8193 icid=0
expect error any
mapti dev=0x10 ev=1 lpi=8193 icid=0
expect error E_ITS_MAPTI_ID_OOR|E_ITS_MAPTI_UNMAPPED_DEVICE
mapti dev=0x10 ev=1 lpi=8193 icid=0
expect error E_ITS_MAPTI_ID_OOR|E_ITS_MAPI_ID_OOR
mapd dev=0x10 bits=2
mapti dev=0x10 ev=0 lpi=8192 icid=0
mapti dev=0x10 ev=1 lpi=8193 icid=0
int dev=0x10 ev=0
int dev=0x10 ev=1
expect ack cpu=0 lpi=8193|8192
expect ack cpu=0 lpi=8193|8194
`, script.Options{})
	want := "t.its:10: expect error E_ITS_MAPTI_ID_OOR|E_ITS_MAPI_ID_OOR: got [E_ITS_MAPTI_UNMAPPED_DEVICE]\n" +
		"t.its:17: expect ack cpu=0 lpi=8193|8194: got 1023 (spurious)"
	if got := failures(res); got != want {
		t.Errorf("failures:\n%s\nwant:\n%s", got, want)
	}
}

// TestRunTranslateAndLiveTables: expect translate walks the tables as they
// are, and the table expectations read live tables with no save: each
// sees the commands before it.
func TestRunTranslateAndLiveTables(t *testing.T) {
	res := runString(t, `cpus 2
lpi 8192 prio=0xa0 enabled
enablelpis all
mapc icid=1 cpu=1
mapd dev=0x10 bits=2
expect translate dev=0x10 ev=0 blocked
expect ite dev=0x10 ev=0 invalid
mapti dev=0x10 ev=0 lpi=8192 icid=1
expect translate dev=0x10 ev=0 lpi=8192 cpu=1
expect ite dev=0x10 ev=0 lpi=8192 icid=1
expect translate dev=0x10 ev=4 blocked
expect translate dev=0x11 ev=0 blocked
expect idle cpu=1
expect translate dev=0x10 ev=0 lpi=8192 cpu=0
`, script.Options{})
	want := "t.its:14: expect translate dev=0x10 ev=0 lpi=8192 cpu=0: got LPI 8192 on CPU 1"
	if got := failures(res); got != want {
		t.Errorf("failures:\n%s\nwant:\n%s", got, want)
	}
	if res.Passed != 7 {
		t.Errorf("passed %d, want 7", res.Passed)
	}
}

// TestRunWrongErrorCode checks that expect error names what was reported.
func TestRunWrongErrorCode(t *testing.T) {
	res := runString(t, "mapti dev=0x10 ev=1 lpi=8193 icid=0\nexpect error E_ITS_MAPTI_ID_OOR\n", script.Options{})
	want := "t.its:2: expect error E_ITS_MAPTI_ID_OOR: got [E_ITS_MAPTI_UNMAPPED_DEVICE]"
	if got := failures(res); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestRunSkipsWholeScriptOnRefusedSetting: a setting the backend refuses
// skips every expectation, with the reason, and fails nothing.
func TestRunSkipsWholeScriptOnRefusedSetting(t *testing.T) {
	res := runString(t, "policy stall\nexpect idle cpu=0\nexpect idle cpu=0\n", script.Options{Backend: "kvm"})
	if res.Failed != 0 || res.Skipped != 2 || res.SkipReason == "" {
		t.Fatalf("got %+v, want 2 skipped with a reason", res)
	}
}

// TestRunITTEntrySize: `itt entrysize=N` gives the backend a GITS_TYPER
// with N-byte ITT entries, the runner allocates ITTs of 2^bits × N bytes,
// and the saved ITE of EventID n is at ITT + N×n, the entry's bytes after
// the ITE zero.
func TestRunITTEntrySize(t *testing.T) {
	const itt = 0x40f00000
	for _, size := range []int{8, 12, 16} {
		t.Run(fmt.Sprintf("entrysize=%d", size), func(t *testing.T) {
			var b strings.Builder
			fmt.Fprintf(&b, "itt entrysize=%d\ncpus 2\nlpi 8192..8199 prio=0xa0 enabled\nenablelpis all\n", size)
			fmt.Fprintf(&b, "expect reg GITS_TYPER value=%#x mask=0xf0\n", (size-1)<<4)
			fmt.Fprintf(&b, "mapc icid=0 cpu=0\nmapd dev=0x10 bits=2 itt=%#x\nmapd dev=0x11 bits=2\nmapd dev=0x12 bits=1\n", itt)
			for ev := range 4 {
				if size > 8 { // junk over each entry's padding
					fmt.Fprintf(&b, "poke addr=%#x value=0xeeeeeeeeeeeeeeee\n", itt+size*ev+8)
				}
			}
			for ev := range 4 {
				fmt.Fprintf(&b, "mapti dev=0x10 ev=%d lpi=%d icid=0\n", ev, 8192+ev)
			}
			b.WriteString("save\n")
			for ev := range 4 {
				next := 1
				if ev == 3 {
					next = 0
				}
				fmt.Fprintf(&b, "expect mem addr=%#x value=%#x\n", itt+size*ev, next<<48|(8192+ev)<<16)
				if pad := size - 8; pad > 0 {
					fmt.Fprintf(&b, "expect mem addr=%#x value=0 mask=%#x\n", itt+size*ev+8, uint64(1)<<(8*pad)-1)
				}
				fmt.Fprintf(&b, "expect ite dev=0x10 ev=%d lpi=%d icid=0 next=%d\n", ev, 8192+ev, next)
			}
			// The runner's own ITTs: dev 0x11's 4 entries, then dev
			// 0x12's, 256-byte aligned.
			second := (4*size + 255) &^ 255
			fmt.Fprintf(&b, "expect dte dev=0x11 bits=2 itt=0x40800000\nexpect dte dev=0x12 bits=1 itt=%#x\n", 0x40800000+second)
			res := runString(t, b.String(), script.Options{Observe: func(be model.Backend) error {
				if got := be.Capabilities().ITTEntrySize; got != size {
					return fmt.Errorf("Capabilities().ITTEntrySize = %d, want %d", got, size)
				}
				return nil
			}})
			if !res.OK() || res.Skipped != 0 {
				t.Errorf("%d passed, %d skipped; failures:\n%s\nscript:\n%s", res.Passed, res.Skipped, failures(res), b.String())
			}
		})
	}
}

// TestRunITTEntrySizeOnKVM: KVM's ITT entries are 8 bytes, fixed, so a
// script asking for 12 is skipped whole on the kvm backend, the reason
// naming the entry size; one asking for 8 gets KVM's own GITS_TYPER, which
// the kvm backend takes (where there is no KVM it is refused for that
// instead).
func TestRunITTEntrySizeOnKVM(t *testing.T) {
	res := runString(t, "itt entrysize=12\nexpect idle cpu=0\nexpect idle cpu=0\n", script.Options{Backend: "kvm"})
	if res.Failed != 0 || res.Skipped != 2 || !strings.Contains(res.SkipReason, "12-byte ITT entries") {
		t.Fatalf("got %+v, want 2 skipped with a reason naming the 12-byte ITT entries", res)
	}
	if len(res.Skips) != 1 || res.Skips[0].Stmt != "itt entrysize=12" {
		t.Errorf("skips %v, want one, at the itt setting", res.Skips)
	}
	t.Log(res.Skips[0])
	res = runString(t, "itt entrysize=8\nexpect idle cpu=0\n", script.Options{Backend: "kvm"})
	if strings.Contains(res.SkipReason, "GITS_TYPER") || strings.Contains(res.SkipReason, "ITT entries") {
		t.Errorf("itt entrysize=8 on kvm skipped for its GITS_TYPER: %s", res.SkipReason)
	}
}

// TestRunVerbose checks that -v traces paste back as a script.
func TestRunVerbose(t *testing.T) {
	var b strings.Builder
	runString(t, "mapc icid=0 cpu=0\nmapd dev=0x10 bits=2\nexpect idle cpu=0\n", script.Options{Verbose: &b})
	out := b.String()
	for _, want := range []string{
		"t.its:1: mapc icid=0 rdbase=0: MAPC icid=0 rdbase=0: done",
		"t.its:2: mapd dev=0x10 bits=2: MAPD dev=0x10 bits=2 itt=0x40800000: done",
		"t.its:3: expect idle cpu=0: ok: pending: nothing",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verbose output lacks %q:\n%s", want, out)
		}
	}
}

// Example shows a script run on the simulator.
func Example() {
	src := `# One LPI from device 0x10 to CPU 1.
cpus 2
lpi 8193 prio=0xa0 enabled
enablelpis all
mapc icid=1 cpu=1
mapd dev=0x10 bits=5
mapti dev=0x10 ev=1 lpi=8193 icid=1
msi dev=0x10 ev=1
expect msi delivered
expect pending cpu=1 lpi=8193
expect ack cpu=1 lpi=8193
expect idle cpu=0
`
	s, err := script.Parse("example.its", []byte(src))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	res := script.Run(s, script.Options{Backend: "sim"})
	fmt.Printf("%d passed, %d failed, %d skipped\n", res.Passed, res.Failed, res.Skipped)
	// Output: 4 passed, 0 failed, 0 skipped
}
