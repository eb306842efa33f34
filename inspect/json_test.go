package inspect_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gicits/gicits/inspect"
	"github.com/gicits/gicits/model"
)

// TestExplainJSON: a step's read is a register's value, or bytes and their
// little-endian value; an error has its name and its hex code.
func TestExplainJSON(t *testing.T) {
	steps := []inspect.Step{
		{Title: "reg", Register: "GITS_CTLR", Value: 0x80000001, Raw: "0x80000001", Verdict: inspect.OK},
		{Title: "entry", Addr: 0x40010088, Bytes: []byte{1, 0, 0x10, 8, 0, 0, 0, 0x80}, Verdict: inspect.Fail, Code: model.E_ITS_INT_UNMAPPED_DEVICE},
		{Title: "byte", Addr: 0x40100001, Bytes: []byte{0xa1}, Verdict: inspect.Warn},
		{Title: "nothing read", Verdict: inspect.Info},
	}
	var b bytes.Buffer
	if err := inspect.WriteExplainJSON(&b, 0x11, 3, steps); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schema  string
		Version int
		Dev, Ev uint32
		Steps   []map[string]any
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil || doc.Schema != "gicits-explain" || doc.Version != 1 || doc.Dev != 0x11 || doc.Ev != 3 || len(doc.Steps) != 4 {
		t.Fatalf("%v:\n%s", err, b.String())
	}
	for i, want := range []map[string]any{
		{"step": "reg", "verdict": "ok", "register": "GITS_CTLR", "value": "0x80000001"},
		{"step": "entry", "verdict": "FAIL", "addr": "0x40010088", "bytes": "0100100800000080", "value": "0x8000000008100001",
			"error": map[string]any{"name": "E_ITS_INT_UNMAPPED_DEVICE", "code": "0x010304"}},
		{"step": "byte", "verdict": "warn", "addr": "0x40100001", "bytes": "a1", "value": "0xa1"},
		{"step": "nothing read", "verdict": "info"},
	} {
		got, _ := json.Marshal(doc.Steps[i])
		wantJSON, _ := json.Marshal(want)
		if !bytes.Equal(got, wantJSON) {
			t.Errorf("step %d: %s\nwant %s", i, got, wantJSON)
		}
	}
}

// TestStateJSONTables: a valid table is described by its fields, a table
// whose register is not valid by the register's value.
func TestStateJSONTables(t *testing.T) {
	s := &inspect.State{ITS: inspect.ITSState{
		DeviceTable:     inspect.TableBase{Valid: true, Type: "devices", Addr: 0x40010000, Pages: 8, PageSize: 65536},
		CollectionTable: inspect.TableBase{Baser: 0x0900000040090000},
	}}
	var b bytes.Buffer
	if err := s.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ITS struct {
			DeviceTable     map[string]any `json:"device_table"`
			CollectionTable map[string]any `json:"collection_table"`
		}
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		got  map[string]any
		want string
	}{
		{doc.ITS.DeviceTable, `{"addr":"0x40010000","indirect":false,"page_size":65536,"pages":8,"type":"devices","valid":true}`},
		{doc.ITS.CollectionTable, `{"baser":"0x900000040090000","valid":false}`},
	} {
		if got, _ := json.Marshal(tc.got); string(got) != tc.want {
			t.Errorf("table %s, want %s", got, tc.want)
		}
	}
	if got, want := s.ITS.CollectionTable.String(), "0x900000040090000 (not valid)"; got != want {
		t.Errorf("text %q, want %q", got, want)
	}
}
