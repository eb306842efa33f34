package sim_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/gicits/gicits/model"
	"github.com/google/go-cmp/cmp"
)

// The fixed addresses of FuzzVirtualCommandQueue, inside fuzzLayout's
// 5 MiB of RAM: three 64 KiB-aligned virtual pending tables and the vLPI
// configuration table in the free space between the physical pending
// tables (ram+0x20_0000, two 64 KiB strides) and the vPE table (Scratch,
// ram+0x30_0000), and each device's ITT at a fixed place in the ITT area
// so that no two devices ever share one (UNPREDICTABLE, where the cache
// and the walk may differ: see FuzzCommandQueue's recordTranslates).
var (
	vfuzzVPTs = [3]model.GPA{
		fuzzLayout().RAMBase + 0x24_0000,
		fuzzLayout().RAMBase + 0x25_0000,
		fuzzLayout().RAMBase + 0x26_0000,
	}
	vfuzzVProp = fuzzLayout().RAMBase + 0x28_0000
	// Device 1 has 8 events (3 bits); device 2 has 2^14, so that VMAPI
	// (whose vINTID is the EventID) can name vINTIDs 8192 and up.
	vfuzzITTs = [3]model.GPA{0, fuzzLayout().ITTs, fuzzLayout().ITTs + 0x1_0000}
	vfuzzSize = [3]uint8{0, 2, 13}
)

const (
	vfuzzVPTBytes = 8 << 10 // a VPT of 16 vINTID bits
	vfuzzMaxOps   = 96
	vfuzzOpBytes  = 4
)

// vfuzzOp is one action of FuzzVirtualCommandQueue: its opcode and three
// argument bytes.
type vfuzzOp struct{ op, a, b, c byte }

// The opcodes of vfuzzOp, op % vfuzzOps.
const (
	vopVMAPP = iota
	vopVMAPTI
	vopVMAPI
	vopVMOVI
	vopVMOVP
	vopVSYNC
	vopVINVALL
	vopINT
	vopCLEAR
	vopINV
	vopDISCARD
	vopMAPD
	vopMAPTI
	vopSchedule
	vopDeschedule
	vopMSI
	vopVAck
	vopAck
	vopVPMR
	vopVConfig
	vfuzzOps
)

// vfuzzDevice picks device 1 or 2, or now and then the unmapped (and never
// mapped) device 3.
func vfuzzDevice(a byte) model.DeviceID {
	if a%8 == 7 {
		return 3
	}
	return model.DeviceID(1 + a%2)
}

// vfuzzEvent picks an event of dev: 0..8 (8 is beyond device 1's ITT), or
// on device 2 also vINTID-sized EventIDs for VMAPI.
func vfuzzEvent(dev model.DeviceID, b byte) model.EventID {
	if dev == 2 && b&0x80 != 0 {
		return 8192 + model.EventID(b%16)
	}
	return model.EventID(b % 9)
}

func vfuzzVPE(x byte) model.VPEID { return model.VPEID(1 + x%3) }

// vfuzzVINTID picks vINTIDs 8192..8207, or one beyond a 14-bit VPT, or
// one below 8192.
func vfuzzVINTID(x byte) model.INTID {
	switch x % 32 {
	case 30:
		return 1 << 14
	case 31:
		return 100
	}
	return 8192 + model.INTID(x%16)
}

// vfuzzDoorbell picks no doorbell, one of two physical LPIs (one
// enabled, one disabled), or now and then an out-of-range one.
func vfuzzDoorbell(x byte) model.INTID {
	return [...]model.INTID{model.NoDoorbell, 8250, 8251, model.NoDoorbell, 8250, 8252, 5, model.NoDoorbell}[x%8]
}

// command returns the ITS command op stands for, or nil.
func (o vfuzzOp) command() model.Command {
	dev := vfuzzDevice(o.a)
	ev := vfuzzEvent(dev, o.b)
	switch o.op % vfuzzOps {
	case vopVMAPP:
		return model.VMAPP{
			VPEID:   vfuzzVPE(o.a),
			RDbase:  uint64(o.b % 3), // 2: beyond two CPUs
			VPTAddr: vfuzzVPTs[o.b/3%3],
			VPTSize: [...]uint8{15, 15, 13, 16}[o.c%4],
			Valid:   o.c&0x80 == 0,
		}
	case vopVMAPTI:
		return model.VMAPTI{DeviceID: dev, EventID: ev, VINTID: vfuzzVINTID(o.c), VPEID: vfuzzVPE(o.c >> 5), Doorbell: vfuzzDoorbell(o.a >> 3)}
	case vopVMAPI:
		return model.VMAPI{DeviceID: dev, EventID: ev, VPEID: vfuzzVPE(o.c), Doorbell: vfuzzDoorbell(o.c >> 2)}
	case vopVMOVI:
		return model.VMOVI{DeviceID: dev, EventID: ev, VPEID: vfuzzVPE(o.c), D: o.c&0x80 != 0, Doorbell: vfuzzDoorbell(o.c >> 2)}
	case vopVMOVP:
		return model.VMOVP{VPEID: vfuzzVPE(o.a), RDbase: uint64(o.b % 3)}
	case vopVSYNC:
		return model.VSYNC{VPEID: vfuzzVPE(o.a)}
	case vopVINVALL:
		return model.VINVALL{VPEID: vfuzzVPE(o.a)}
	case vopINT:
		return model.INT{DeviceID: dev, EventID: ev}
	case vopCLEAR:
		return model.CLEAR{DeviceID: dev, EventID: ev}
	case vopINV:
		return model.INV{DeviceID: dev, EventID: ev}
	case vopDISCARD:
		return model.DISCARD{DeviceID: dev, EventID: ev}
	case vopMAPD:
		if dev == 3 {
			return model.MAPD{DeviceID: 3}
		}
		return model.MAPD{DeviceID: dev, Size: vfuzzSize[dev], ITTAddr: vfuzzITTs[dev], Valid: o.c&1 == 0}
	case vopMAPTI:
		return model.MAPTI{DeviceID: dev, EventID: ev, INTID: 8192 + model.INTID(o.c%64), ICID: model.ICID(o.c >> 6 % 2)}
	}
	return nil
}

func (o vfuzzOp) String() string {
	if c := o.command(); c != nil {
		return c.String()
	}
	cpu := o.a % 2
	switch o.op % vfuzzOps {
	case vopSchedule:
		return fmt.Sprintf("vschedule cpu=%d vpt=%v idai=%v", cpu, vfuzzVPTs[o.b%3], o.c&1 != 0)
	case vopDeschedule:
		return fmt.Sprintf("vdeschedule cpu=%d", cpu)
	case vopMSI:
		dev := vfuzzDevice(o.a)
		return fmt.Sprintf("msi dev=%d ev=%d", dev, vfuzzEvent(dev, o.b))
	case vopVAck:
		return fmt.Sprintf("vack cpu=%d eoi=%v", cpu, o.b&1 == 0)
	case vopAck:
		return fmt.Sprintf("ack cpu=%d", cpu)
	case vopVPMR:
		return fmt.Sprintf("vpmr cpu=%d value=%#x", cpu, o.b)
	case vopVConfig:
		return fmt.Sprintf("vlpi %d prio=%#x enabled=%v", vfuzzVINTID(o.b), o.c&0xF0, o.c&1 == 0)
	}
	return "?"
}

// vfuzzOpsOf cuts data into at most vfuzzMaxOps actions.
func vfuzzOpsOf(data []byte) []vfuzzOp {
	var ops []vfuzzOp
	for i := 0; i+vfuzzOpBytes <= len(data) && len(ops) < vfuzzMaxOps; i += vfuzzOpBytes {
		ops = append(ops, vfuzzOp{data[i], data[i+1], data[i+2], data[i+3]})
	}
	return ops
}

// vfuzzEncode is the inverse of vfuzzOpsOf, for the seed corpus.
func vfuzzEncode(ops ...vfuzzOp) []byte {
	var b []byte
	for _, o := range ops {
		b = append(b, o.op, o.a, o.b, o.c)
	}
	return b
}

// openVFuzz opens a GICv4.0 simulator for one input: two CPUs with LPIs
// enabled, LPIs 8192..8255 enabled at 0xA0 except 8251 (a disabled
// doorbell), collections 0 and 1 on CPUs 0 and 1, devices 1 and 2
// mapped, and vINTIDs 8192..8207 enabled at 0xA0 in the vLPI
// configuration table.
func openVFuzz(t *testing.T, noCache bool) *env {
	e := open(t, model.Config{CPUs: 2, Layout: fuzzLayout(), ITSTyper: model.GICv4ITSTyper, NoTranslationCache: noCache})
	e.enable(0, 1)
	e.config(0xA0, true, idRange(8192, 8256)...)
	e.config(0xA0, false, 8251)
	must(t, e.b.Memory().WriteAt(bytes.Repeat([]byte{byte(model.MakeLPIConfig(0xA0, true))}, 16), vfuzzVProp))
	e.must(
		model.MAPC{ICID: 0, RDbase: 0, Valid: true},
		model.MAPC{ICID: 1, RDbase: 1, Valid: true},
		model.MAPD{DeviceID: 1, Size: vfuzzSize[1], ITTAddr: vfuzzITTs[1], Valid: true},
		model.MAPD{DeviceID: 2, Size: vfuzzSize[2], ITTAddr: vfuzzITTs[2], Valid: true},
	)
	return e
}

// vfuzzRun performs op on e and returns what it observed, as a string the
// cached and the walking simulator must agree on.
func vfuzzRun(t *testing.T, e *env, o vfuzzOp) string {
	if c := o.command(); c != nil {
		err := model.SubmitCommands(e.b, c)
		ces := model.CommandErrors(err)
		if err != nil && len(ces) == 0 {
			t.Fatalf("%v: %v is not a command error", o, err)
		}
		var codes []model.ErrorCode
		for _, ce := range ces {
			if ce.Code == 0 && ce.Cause == nil {
				t.Errorf("%v: command error with neither code nor cause: %v", o, ce)
			}
			codes = append(codes, ce.Code)
		}
		return fmt.Sprint(codes)
	}
	cpu := model.CPU(o.a % 2)
	switch o.op % vfuzzOps {
	case vopSchedule:
		prop, err := model.MakeVPropBaser(vfuzzVProp, 16)
		must(t, err)
		pend, err := model.MakeVPendBaser(vfuzzVPTs[o.b%3], true, o.c&1 != 0)
		must(t, err)
		err1 := e.b.WriteRedistributorRegister(cpu, model.GICR_VPROPBASER, uint64(prop))
		err2 := e.b.WriteRedistributorRegister(cpu, model.GICR_VPENDBASER, uint64(pend))
		return fmt.Sprint(err1, err2)
	case vopDeschedule:
		r, err := e.b.ReadRedistributorRegister(cpu, model.GICR_VPENDBASER)
		must(t, err)
		err = e.b.WriteRedistributorRegister(cpu, model.GICR_VPENDBASER, r&^model.GICR_VPENDBASER_Valid)
		after, _ := e.b.ReadRedistributorRegister(cpu, model.GICR_VPENDBASER)
		return fmt.Sprintf("%v %#x", err, after)
	case vopMSI:
		dev := vfuzzDevice(o.a)
		d, err := e.b.SignalMSI(e.msiOf(dev, vfuzzEvent(dev, o.b)))
		return fmt.Sprint(d, err)
	case vopVAck:
		id, err := e.b.AcknowledgeVirtual(cpu)
		var eoi error
		if err == nil && id != model.SpuriousINTID && o.b&1 == 0 {
			eoi = e.b.EOIVirtual(cpu, id)
		}
		return fmt.Sprint(id, err, eoi)
	case vopAck:
		id, err := e.b.Acknowledge(cpu)
		var eoi error
		if err == nil && id != model.SpuriousINTID {
			eoi = e.b.EOI(cpu, id)
		}
		return fmt.Sprint(id, err, eoi)
	case vopVPMR:
		return fmt.Sprint(e.b.SetVirtualPriorityMask(cpu, o.b))
	case vopVConfig:
		id := vfuzzVINTID(o.b)
		if id < model.LPIBase || id >= 8192+64 {
			return "no byte"
		}
		cfg := model.MakeLPIConfig(o.c&0xF0, o.c&1 == 0)
		return fmt.Sprint(e.b.Memory().WriteAt([]byte{byte(cfg)}, vfuzzVProp+model.GPA(id-model.LPIBase)))
	}
	t.Fatalf("no action for %v", o)
	return ""
}

// vfuzzPending returns what is pending on each CPU, physical and virtual.
func vfuzzPending(e *env) string {
	var s string
	for cpu := range model.CPU(2) {
		p, err := e.b.Pending(cpu)
		vp, verr := e.b.PendingVirtual(cpu)
		s += fmt.Sprintf("cpu %d: pending %v %v, vpending %v %v\n", cpu, p, err, vp, verr)
	}
	return s
}

func vptBytesOf(t *testing.T, e *env) []byte {
	var out []byte
	for _, a := range vfuzzVPTs {
		b := make([]byte, vfuzzVPTBytes)
		must(t, e.b.Memory().ReadAt(b, a))
		out = append(out, b...)
	}
	return out
}

// FuzzVirtualCommandQueue drives a GICv4.0 simulator with a sequence of
// actions the input's bytes choose, four bytes each: V* commands on three
// vPEs and three VPTs (VMAPP, VMAPTI and VMAPI with and without
// doorbells, VMOVI, VMOVP, VSYNC, VINVALL), physical commands on the same
// events (INT, CLEAR, INV, DISCARD, MAPD, MAPTI), GICR_VPENDBASER
// schedule (with and without IDAI) and deschedule on two CPUs, MSIs,
// virtual and physical acknowledges, ICV_PMR_EL1 and vLPI configuration
// writes. The same sequence runs on a sim with its translation cache and
// on one walking guest memory for every MSI. Invariants: no panic; every
// error from a command is a *model.CommandError; and the cache changes
// nothing observable: after every action, its result (command error
// codes, MSI delivery, vack and ack) and what is pending, physical and
// virtual, on each CPU; at the end, the ITS's State and the bytes of
// every VPT.
func FuzzVirtualCommandQueue(f *testing.F) {
	op := func(op, a, b, c byte) vfuzzOp { return vfuzzOp{op, a, b, c} }
	// vPE 1 on CPU 0 with VPT 0, device 1 event 0 -> vINTID 8200 with the
	// doorbell 8250, device 2 event 8193 -> vINTID 8193 by VMAPI, without.
	mapped := []vfuzzOp{
		op(vopVMAPP, 0, 0, 0),
		op(vopVMAPTI, 1<<3, 0, 8), // event 0 of device 1
		op(vopVMAPI, 1, 0x81, 0),
		op(vopVSYNC, 0, 0, 0),
	}
	msi := op(vopMSI, 0, 0, 0)
	sched := op(vopSchedule, 0, 0, 0)
	desched := op(vopDeschedule, 0, 0, 0)
	seeds := [][]vfuzzOp{
		// Resident delivery, cached and then hit.
		append(slices.Clone(mapped), sched, msi, msi, op(vopVAck, 0, 0, 0), msi, op(vopVAck, 0, 0, 0)),
		// Not resident: VPT and doorbell, then scheduled with and without IDAI.
		append(slices.Clone(mapped), msi, op(vopMSI, 1, 0x81, 0), op(vopAck, 1, 0, 0), sched, op(vopVAck, 0, 1, 0), desched, op(vopSchedule, 0, 0, 1), op(vopVAck, 0, 0, 0)),
		// VMOVI to vPE 2 on another VPT, with a doorbell, then VMOVP.
		append(slices.Clone(mapped), op(vopVMAPP, 1, 4, 0), msi, op(vopVMOVI, 0, 0, 0x81|1<<2), msi, op(vopVMOVP, 1, 1, 0), msi, op(vopAck, 1, 0, 0), op(vopSchedule, 1, 1, 0), op(vopVAck, 1, 0, 0)),
		// VMAPP V=0 and re-map of a cached vPE.
		append(slices.Clone(mapped), sched, msi, op(vopVAck, 0, 0, 0), op(vopVMAPP, 0, 0, 0x80), msi, op(vopVMAPP, 0, 3, 0), msi, op(vopVAck, 0, 0, 0)),
		// INT, CLEAR, INV, DISCARD on a cached virtual event.
		append(slices.Clone(mapped), sched, msi, op(vopINT, 0, 0, 0), op(vopCLEAR, 0, 0, 0), op(vopVConfig, 0, 8, 0x41), op(vopINV, 0, 0, 0), op(vopVINVALL, 0, 0, 0), msi, op(vopDISCARD, 0, 0, 0), msi, op(vopVAck, 0, 0, 0)),
		// MAPD V=0 and again, MAPTI over a virtual event, physical ack.
		append(slices.Clone(mapped), msi, op(vopMAPD, 0, 0, 1), msi, op(vopMAPD, 0, 0, 0), op(vopMAPTI, 0, 0, 5), msi, op(vopAck, 0, 0, 0)),
		// The vPE's priority mask, and errors: a 14-bit VPT, RDbase 2.
		append(slices.Clone(mapped), sched, op(vopVPMR, 0, 0x80, 0), msi, op(vopVAck, 0, 0, 0), op(vopVMAPP, 2, 2, 2), op(vopVMAPTI, 0, 1, 30|2<<5), op(vopVMOVP, 2, 2, 0)),
		// Both CPUs, the same VPT scheduled on both.
		append(slices.Clone(mapped), sched, op(vopSchedule, 1, 0, 0), msi, op(vopVAck, 1, 0, 0), op(vopDeschedule, 1, 0, 0), msi, op(vopVAck, 0, 0, 0)),
	}
	covered := map[byte]bool{}
	for _, s := range seeds {
		for _, o := range s {
			covered[o.op%vfuzzOps] = true
		}
		f.Add(vfuzzEncode(s...))
	}
	for op := range byte(vfuzzOps) {
		if !covered[op] {
			f.Fatalf("no seed has action %d (%v)", op, vfuzzOp{op: op})
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ops := vfuzzOpsOf(data)
		cached, walk := openVFuzz(t, false), openVFuzz(t, true)
		var done []string
		for _, o := range ops {
			done = append(done, o.String())
			rc, rw := vfuzzRun(t, cached, o), vfuzzRun(t, walk, o)
			if rc != rw {
				t.Fatalf("%v: cached %q, walk %q; after\n%s", o, rc, rw, lines(done))
			}
			if pc, pw := vfuzzPending(cached), vfuzzPending(walk); pc != pw {
				t.Fatalf("after %v: pending, cached:\n%swalk:\n%safter\n%s", o, pc, pw, lines(done))
			}
		}
		if diff := cmp.Diff(walk.b.ITS().State(), cached.b.ITS().State()); diff != "" {
			t.Fatalf("ITS state (-walk +cached):\n%s\nafter\n%s", diff, lines(done))
		}
		if !bytes.Equal(vptBytesOf(t, cached), vptBytesOf(t, walk)) {
			t.Fatalf("VPT bytes differ, after\n%s", lines(done))
		}
	})
}

func lines(ss []string) string {
	var b bytes.Buffer
	for _, s := range ss {
		b.WriteString("\t" + s + "\n")
	}
	return b.String()
}

// A doorbell belongs to the event (the ITE's Dbell_pINTID, IHI 0069H.b,
// 5.3.20), not to the vLPI: two events of one vPE mapped to the same
// vINTID, one with a doorbell and one without, each ring their own. The
// simulator once kept one doorbell per vLPI at the redistributors, so the
// last mapping won, and when a VMAPP mapped the vPE later the doorbell an
// MSI rang was chosen by Go's map order. FuzzVirtualCommandQueue found it
// (a cached and a walking simulator disagreeing about whether CPU 1 had
// LPI 8250 pending); now whoever delivers a vLPI names its event's
// doorbell.
func TestVLPIDoorbellIsPerEvent(t *testing.T) {
	for _, vmappFirst := range []bool{true, false} {
		for range 20 { // the VMAPP-last case is random: try it often
			e := openVFuzz(t, false)
			vmapp := model.VMAPP{VPEID: 1, RDbase: 1, VPTAddr: vfuzzVPTs[1], VPTSize: 15, Valid: true}
			if vmappFirst {
				e.must(vmapp)
			}
			e.must(
				model.VMAPTI{DeviceID: 1, EventID: 0, VINTID: 8193, VPEID: 1, Doorbell: 8250},
				model.VMAPI{DeviceID: 2, EventID: 8193, VPEID: 1, Doorbell: model.NoDoorbell},
			)
			if !vmappFirst {
				e.must(vmapp)
			}
			e.msi(1, 0)
			if got := e.pending(1); !slices.Equal(got, []model.INTID{8250}) {
				t.Fatalf("VMAPP first %v: event 0 of device 1 (doorbell 8250) signalled to vPE 1, not resident: CPU 1 pending %v, want [8250]", vmappFirst, got)
			}
		}
	}
}
