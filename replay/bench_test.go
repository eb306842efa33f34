package replay

import (
	"bytes"
	"os"
	"testing"

	"github.com/gicits/gicits/model"
)

func TestInferredLPIConfigIsLinuxs(t *testing.T) {
	if want := model.MakeLPIConfig(0xa0, true); InferredLPIConfig != want {
		t.Errorf("InferredLPIConfig %#x, want %#x", uint8(InferredLPIConfig), uint8(want))
	}
}

// BenchmarkParse parses the hand-made Linux boot transcript (123 lines);
// its baseline is the bytes it reads (b.SetBytes).
func BenchmarkParse(b *testing.B) {
	in, err := os.ReadFile("testdata/boot-2cpu.log")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(in)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReplay replays the transcript on a fresh simulator each time
// (21 commands, 5 MSIs); the time includes opening the backend.
func BenchmarkReplay(b *testing.B) {
	tr := parseTestdata(b, "boot-2cpu.log")
	b.Run("sim", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			be, err := model.Open("sim", BackendConfig(tr))
			if err != nil {
				b.Fatal(err)
			}
			rep, err := Run(tr, be, Options{})
			be.Close()
			if err != nil || !rep.OK() {
				b.Fatal(err, rep.Findings)
			}
		}
	})
}
