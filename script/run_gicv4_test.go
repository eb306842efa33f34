package script_test

import (
	"strings"
	"testing"

	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/script"
)

// TestRunGICv4OnKVM: KVM exposes a GICv3 ITS to guests, so a script with
// gicv4 is skipped whole on the kvm backend, the skip at the gicv4
// setting and its reason naming it.
func TestRunGICv4OnKVM(t *testing.T) {
	res := runString(t, "cpus 2\ngicv4\nram mib=128\nexpect idle cpu=0\nexpect vidle cpu=0\n", script.Options{Backend: "kvm"})
	if res.Failed != 0 || res.Skipped != 2 || !strings.Contains(res.SkipReason, "gicv4") || !strings.Contains(res.SkipReason, "GICv3 ITS") {
		t.Fatalf("got %+v, want 2 skipped with a reason naming the gicv4 setting", res)
	}
	if len(res.Skips) != 1 || res.Skips[0].Stmt != "gicv4" {
		t.Errorf("skips %v, want one, at the gicv4 setting", res.Skips)
	}
	t.Log(res.Skips[0])
}

// TestRunGICv4Config: gicv4 opens the backend with model.GICv4ITSTyper,
// and after an itt setting keeps its ITT entry size.
func TestRunGICv4Config(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want model.ITSTyper
	}{
		{"gicv4\n", model.GICv4ITSTyper},
		{"itt entrysize=16\ngicv4\n", model.GICv4ITSTyper | 0xF<<4},
		{"gicv4\nitt entrysize=16\n", model.GICv4ITSTyper | 0xF<<4},
	} {
		var got model.ITSTyper
		runString(t, tc.src+"expect idle cpu=0\n", script.Options{Configure: func(c *model.Config) { got = c.ITSTyper }})
		if got != tc.want {
			t.Errorf("%q: GITS_TYPER %#x, want %#x", tc.src, uint64(got), uint64(tc.want))
		}
	}
}

// TestRunNoVPEs: on a backend without vPEs (the simulator without
// gicv4), the virtual CPU interface's statements skip, saying why.
func TestRunNoVPEs(t *testing.T) {
	for _, src := range []string{
		"expect vidle cpu=0\n",
		"expect vack cpu=0 spurious\n",
		"vack cpu=0\nexpect idle cpu=0\n",
		"vpmr cpu=0 value=0x80\nexpect idle cpu=0\n",
		"veoi cpu=0 vlpi=8192\nexpect idle cpu=0\n",
	} {
		res := runString(t, src, script.Options{})
		if res.Failed != 0 || len(res.Skips) != 1 || !strings.Contains(res.Skips[0].Reason, "no vPEs") {
			t.Errorf("%q: got %+v, want 1 skipped saying the backend has no vPEs; failures:\n%s", src, res, failures(res))
		}
	}
}
