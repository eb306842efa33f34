package savedstate_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/savedstate"
)

// FuzzParse: Parse never panics on any file. It returns a State exactly
// when the error is nil; an error is a *FormatError wrapping
// ErrInvalidArgument whose offset lies in the file; a State is valid and
// encodes back to the very bytes it came from. reseal fixes the length
// and checksum of the fuzzer's bytes first, so that mutations reach the
// fields behind them.
func FuzzParse(f *testing.F) {
	f.Add(unhex(f, golden), false)
	for _, sc := range scenarios {
		data, err := captureScenario(f, sc).MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, false)
	}
	f.Add([]byte(savedstate.Magic+"\x01\x00\x00\x00\x18\x00\x00\x00\x00\x00\x00\x00"), true)
	f.Fuzz(func(t *testing.T, data []byte, reseal bool) {
		if reseal {
			data = seal(slices.Clone(data))
		}
		st, err := savedstate.Parse(data)
		if (st == nil) == (err == nil) {
			t.Fatalf("Parse = %v, %v: want a state exactly when the error is nil", st, err)
		}
		if err != nil {
			var fe *savedstate.FormatError
			if !errors.As(err, &fe) || !errors.Is(err, model.ErrInvalidArgument) {
				t.Fatalf("error %v (%T) is not a *FormatError wrapping ErrInvalidArgument", err, err)
			}
			if fe.Offset < 0 || fe.Offset > int64(len(data)) {
				t.Fatalf("error %v: offset %d outside the %d-byte file", err, fe.Offset, len(data))
			}
			return
		}
		if err := st.Validate(); err != nil {
			t.Fatalf("a parsed state does not validate: %v", err)
		}
		again, err := st.MarshalBinary()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("MarshalBinary of the parsed state = %v; bytes equal: %v", err, bytes.Equal(again, data))
		}
	})
}
