package model_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/gicits/gicits/model"
)

func TestPCIRequesterID(t *testing.T) {
	devfn, err := model.PCIDevFn(3, 1)
	if err != nil || devfn != 0x19 {
		t.Fatalf("PCIDevFn(3, 1) = %#x, %v", devfn, err)
	}
	if id := model.PCIRequesterID(0x02, devfn); id != 0x0219 {
		t.Errorf("PCIRequesterID(2, 0x19) = %#x, want bus<<8|devfn = 0x219", uint32(id))
	}
	if _, err := model.PCIDevFn(32, 0); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("device 32: error = %v", err)
	}
	if _, err := model.PCIDevFn(0, 8); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("function 8: error = %v", err)
	}
}

// The DeviceID is always computed and carried; it is marked valid exactly
// when the backend needs one, the rule KVM applies to KVM_MSI_VALID_DEVID.
func TestCapabilitiesPrepare(t *testing.T) {
	msi := model.MSI{Doorbell: 0x08090040, Data: 3, DeviceID: 0x219}
	route := model.Route{GSI: 7, MSI: msi}
	for _, needs := range []bool{true, false} {
		caps := model.Capabilities{NeedsDeviceID: needs}
		got := caps.Prepare(msi)
		if got.DeviceIDValid != needs || got.DeviceID != 0x219 || got.Data != 3 || got.Doorbell != msi.Doorbell {
			t.Errorf("NeedsDeviceID=%v: Prepare = %+v", needs, got)
		}
		if r := caps.PrepareRoute(route); r.MSI != got || r.GSI != 7 {
			t.Errorf("NeedsDeviceID=%v: PrepareRoute = %+v", needs, r)
		}
	}
	if s := (model.Capabilities{NeedsDeviceID: true}).Prepare(msi).String(); s != "MSI dev=0x219 ev=3 doorbell=0x8090040" {
		t.Errorf("String = %q", s)
	}
	if s := msi.String(); !strings.Contains(s, "no DeviceID") {
		t.Errorf("String without a valid DeviceID = %q", s)
	}
}

func TestErrorCodes(t *testing.T) {
	codes := model.ErrorCodes()
	if len(codes) != 69 {
		t.Fatalf("%d codes, want 69: the 15 KVM defines, 24 more, 26 GICv4.0 ones, 2 for GICv4.1 default doorbells (model/errors.go) and 2 GICv4.1 ones (model/vpe41.go)", len(codes))
	}
	for i, c := range codes {
		if i > 0 && codes[i-1] >= c {
			t.Errorf("ErrorCodes not ascending at %d", i)
		}
		back, err := model.ParseErrorCode(c.String())
		if err != nil || back != c {
			t.Errorf("ParseErrorCode(%q) = %v, %v", c.String(), back, err)
		}
		if uint32(c)>>16 != 0x01 {
			t.Errorf("%v = %#x is not an ITS command error (0x01xxxx)", c, uint32(c))
		}
	}
	if c, err := model.ParseErrorCode("0x010a04"); err != nil || c != model.E_ITS_MAPTI_UNMAPPED_DEVICE {
		t.Errorf("ParseErrorCode(0x010a04) = %v, %v", c, err)
	}
	for _, bad := range []string{"E_ITS_NOPE", "0", "E_ITS_0x000000", "E_ITS_0x", ""} {
		if _, err := model.ParseErrorCode(bad); !errors.Is(err, model.ErrInvalidArgument) {
			t.Errorf("ParseErrorCode(%q): error = %v, want ErrInvalidArgument", bad, err)
		}
	}
	// String and ParseErrorCode round trip for codes gicits does not know.
	for _, c := range []model.ErrorCode{0x010203, 0xFFFFFFFF, 1} {
		if back, err := model.ParseErrorCode(c.String()); err != nil || back != c {
			t.Errorf("ParseErrorCode(%q) = %v, %v; want %#x", c.String(), back, err, uint32(c))
		}
	}
	if s := model.ErrorCode(0x010203).String(); s != "E_ITS_0x010203" {
		t.Errorf("unknown code String = %q", s)
	}
}

func TestCommandErrorsFromJoinedError(t *testing.T) {
	p, _ := model.MAPTI{DeviceID: 0x10, EventID: 1, INTID: 8193, ICID: 1}.Encode()
	e1 := &model.CommandError{Offset: 0x40, Packet: p, Code: model.E_ITS_MAPTI_UNMAPPED_DEVICE, Detail: "device 0x10 is not mapped"}
	var q model.Packet
	q[0] = 0x29
	e2 := &model.CommandError{Offset: 0x60, Packet: q, Cause: &model.OpcodeError{Opcode: 0x29}}
	err := errors.Join(e1, e2)
	got := model.CommandErrors(err)
	if len(got) != 2 || got[0] != e1 || got[1] != e2 {
		t.Fatalf("CommandErrors = %v", got)
	}
	if model.CommandErrors(nil) != nil || model.CommandErrors(model.ErrBusy) != nil {
		t.Error("CommandErrors of an error without command errors must be empty")
	}
	want := "command at queue offset 0x40 (MAPTI dev=0x10 ev=1 lpi=8193 icid=1): E_ITS_MAPTI_UNMAPPED_DEVICE (0x010a04): device 0x10 is not mapped"
	if e1.Error() != want {
		t.Errorf("Error() =\n %q\nwant\n %q", e1.Error(), want)
	}
	if !errors.Is(e2, model.ErrNotSupported) || !strings.Contains(e2.Error(), "VMAPP") {
		t.Errorf("e2 = %v", e2)
	}
}

// The registry is process-wide and a name registers once, so the test
// backend registers once however often TestRegistry runs (-count).
var (
	registerTestBackend sync.Once
	testBackendCfg      model.Config
)

func TestRegistry(t *testing.T) {
	registerTestBackend.Do(func() {
		model.Register("test-registry", func(cfg model.Config) (model.Backend, error) {
			testBackendCfg = cfg
			return nil, errors.New("no hardware here")
		})
	})
	if _, err := model.Open("test-registry", model.Config{}); err == nil || !strings.Contains(err.Error(), "test-registry backend: no hardware here") {
		t.Errorf("Open error = %v", err)
	}
	if cfg := testBackendCfg; cfg.CPUs != 1 || cfg.ITSTyper != model.KVMITSTyper || cfg.Layout != model.DefaultLayout() {
		t.Errorf("Open passed %+v, want defaults filled in", cfg)
	}
	_, err := model.Open("nope", model.Config{})
	if !errors.Is(err, model.ErrUnknownBackend) || !strings.Contains(err.Error(), "test-registry") {
		t.Errorf("unknown backend: error = %v, want ErrUnknownBackend listing the known ones", err)
	}
	bad := model.DefaultLayout()
	bad.PropTable += 1
	if _, err := model.Open("test-registry", model.Config{Layout: bad}); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("bad layout: error = %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a name twice did not panic")
		}
	}()
	model.Register("test-registry", nil)
}

func TestGPAAdd(t *testing.T) {
	if a, err := model.GPA(0x1000).Add(0x10); err != nil || a != 0x1010 {
		t.Errorf("Add = %v, %v", a, err)
	}
	if _, err := model.GPA(0xFFFF_FFFF_FFFF_FFF0).Add(0x10); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("overflow: error = %v", err)
	}
}
