package its

import (
	"errors"
	"reflect"
	"testing"

	"github.com/gicits/gicits/model"
)

// TestGICv4CommandsRefused: model decodes every V* command, but the ITS has
// no GICv4 (GITS_TYPER.Virtual is 0, as on KVM), so each is reported as
// before the codec knew it: a *model.OpcodeError Cause wrapping
// ErrNotSupported, no architectural code, the queue moving past it, and
// nothing else changed.
func TestGICv4CommandsRefused(t *testing.T) {
	const queue = model.GPA(0x40000000)
	for _, cmd := range []model.Command{
		model.VMAPP{VPEID: 5, RDbase: 0, VPTAddr: 0x40100000, VPTSize: 15, Valid: true},
		model.VMAPP{VPEID: 5, RDbase: 0, VPTAddr: 0x40100000, VPTSize: 15, Valid: true, Alloc: true, VCONFAddr: 0x40200000, DefaultDoorbell: 8192},
		model.VMAPTI{DeviceID: 1, EventID: 0, VINTID: 8192, VPEID: 5, Doorbell: model.NoDoorbell},
		model.VMAPI{DeviceID: 1, EventID: 8192, VPEID: 5, Doorbell: 8193},
		model.VMOVI{DeviceID: 1, EventID: 0, VPEID: 6, D: true, Doorbell: 8193},
		model.VMOVP{SequenceNumber: 1, ITSList: 1, VPEID: 5, RDbase: 0, DB: true, DefaultDoorbell: 8192},
		model.VSYNC{VPEID: 5},
		model.VINVALL{VPEID: 5},
		model.INVDB{VPEID: 5},
		model.VSGI{VPEID: 5, VINTID: 3, Priority: 0xA0, Group: true, Enable: true},
	} {
		t.Run(cmd.String(), func(t *testing.T) {
			ram, err := model.NewRAM(queue, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			// No translation cache: then nothing here calls the
			// redistributors, and noRedistributors panics if a V*
			// command reached them.
			s, err := New(ram, noRedistributors{}, Config{NoTranslationCache: true})
			if err != nil {
				t.Fatal(err)
			}
			cbaser, err := model.MakeCBASER(queue, 1)
			if err != nil {
				t.Fatal(err)
			}
			for n, addr := range []model.GPA{queue + 0x10000, queue + 0x20000} {
				v, err := s.ReadRegister(model.GITS_BASER(n))
				if err != nil {
					t.Fatal(err)
				}
				b, err := model.Baser(v).WithTable(addr, model.PageSize4K, 1, false)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.WriteRegister(model.GITS_BASER(n), uint64(b)); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.WriteRegister(model.GITS_CBASER, uint64(cbaser)); err != nil {
				t.Fatal(err)
			}
			if err := s.WriteRegister(model.GITS_CTLR, model.GITS_CTLR_Enabled); err != nil {
				t.Fatal(err)
			}
			p, err := cmd.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if err := ram.WriteAt(p[:], queue); err != nil {
				t.Fatal(err)
			}
			before := s.State()
			err = s.WriteRegister(model.GITS_CWRITER, model.CommandSize)
			ces := model.CommandErrors(err)
			if len(ces) != 1 {
				t.Fatalf("CWRITER: %v, want one command error", err)
			}
			ce := ces[0]
			var oe *model.OpcodeError
			if !errors.As(ce.Cause, &oe) || oe.Opcode != cmd.Opcode() || !errors.Is(ce, model.ErrNotSupported) || ce.Code != 0 || ce.Offset != 0 || ce.Packet != p {
				t.Errorf("command error %#v, want Cause *OpcodeError{%v} wrapping ErrNotSupported, no code, at offset 0", ce, cmd.Opcode())
			}
			want := "command at queue offset 0x0: command ignored: " + (&model.OpcodeError{Opcode: cmd.Opcode()}).Error()
			if ce.Error() != want {
				t.Errorf("error text\n %q\nwant\n %q", ce.Error(), want)
			}
			if creadr, _ := s.ReadRegister(model.GITS_CREADR); creadr != model.CommandSize {
				t.Errorf("GITS_CREADR %#x, want %#x: the command is ignored and the queue moves on", creadr, model.CommandSize)
			}
			if after := s.State(); !reflect.DeepEqual(before, after) {
				t.Errorf("state changed:\n%+v\n%+v", before, after)
			}
		})
	}
}
