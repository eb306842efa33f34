package difftest

import (
	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/script"
)

// Identifiers no generated stream maps, for failing commands.
const (
	genUnmappedICID  = model.ICID(9)           // never the target of a MAPC: ICIDs below the CPU count are
	genUnmappedDev   = model.DeviceID(0x20)    // outside genFirstDev..+genDevices
	genDeviceOOR     = model.DeviceID(1 << 16) // KVM's GITS_TYPER.Devbits is 16
	genCollectionOOR = model.ICID(0xffff)      // beyond the collection table
	genPhysicalOOR   = model.INTID(100)        // below the first LPI
)

// failingCommands is every way Generate makes a command fail: one per
// E_ITS_* code a guest can reach on KVM's ITS (include/linux/irqchip/
// arm-gic-v3.h), in the order of model's constants, an unmapped device
// giving the command's *_UNMAPPED_DEVICE instead.
var failingCommands = []func(g *generator) (model.Command, model.ErrorCode, bool){
	func(g *generator) (model.Command, model.ErrorCode, bool) {
		d, e, devMapped := g.unmappedEvent()
		return model.MOVI{DeviceID: d, EventID: e}, pick(devMapped, model.E_ITS_MOVI_UNMAPPED_INTERRUPT, model.E_ITS_MOVI_UNMAPPED_DEVICE), true
	},
	func(g *generator) (model.Command, model.ErrorCode, bool) {
		d, e, ok := g.mappedEvent()
		return model.MOVI{DeviceID: d, EventID: e, ICID: genUnmappedICID}, model.E_ITS_MOVI_UNMAPPED_COLLECTION, ok
	},
	func(g *generator) (model.Command, model.ErrorCode, bool) {
		d, e, devMapped := g.unmappedEvent()
		return model.INT{DeviceID: d, EventID: e}, pick(devMapped, model.E_ITS_INT_UNMAPPED_INTERRUPT, model.E_ITS_INT_UNMAPPED_DEVICE), true
	},
	func(g *generator) (model.Command, model.ErrorCode, bool) {
		d, e, devMapped := g.unmappedEvent()
		return model.CLEAR{DeviceID: d, EventID: e}, pick(devMapped, model.E_ITS_CLEAR_UNMAPPED_INTERRUPT, model.E_ITS_CLEAR_UNMAPPED_DEVICE), true
	},
	func(g *generator) (model.Command, model.ErrorCode, bool) {
		return model.MAPD{DeviceID: genDeviceOOR, Size: genITTBits - 1, Valid: true}, model.E_ITS_MAPD_DEVICE_OOR, true
	},
	func(g *generator) (model.Command, model.ErrorCode, bool) {
		return model.MAPD{DeviceID: genUnmappedDev, Size: 16, Valid: true}, model.E_ITS_MAPD_ITTSIZE_OOR, true
	},
	func(g *generator) (model.Command, model.ErrorCode, bool) {
		return model.MAPC{ICID: g.icid(), RDbase: uint64(g.cpus), Valid: true}, model.E_ITS_MAPC_PROCNUM_OOR, true
	},
	func(g *generator) (model.Command, model.ErrorCode, bool) {
		return model.MAPC{ICID: genCollectionOOR, RDbase: uint64(g.cpu()), Valid: true}, model.E_ITS_MAPC_COLLECTION_OOR, true
	},
	func(g *generator) (model.Command, model.ErrorCode, bool) {
		return model.MAPTI{DeviceID: genUnmappedDev, INTID: model.LPIBase, ICID: g.icid()}, model.E_ITS_MAPTI_UNMAPPED_DEVICE, true
	},
	func(g *generator) (model.Command, model.ErrorCode, bool) {
		d, ok := g.mappedDevice()
		return model.MAPTI{DeviceID: d, EventID: 1 << genITTBits, INTID: model.LPIBase, ICID: g.icid()}, model.E_ITS_MAPTI_ID_OOR, ok
	},
	func(g *generator) (model.Command, model.ErrorCode, bool) {
		d, e, mapped := g.unmappedEvent()
		return model.MAPTI{DeviceID: d, EventID: e, INTID: genPhysicalOOR, ICID: g.icid()}, model.E_ITS_MAPTI_PHYSICALID_OOR, mapped
	},
	func(g *generator) (model.Command, model.ErrorCode, bool) {
		d, e, devMapped := g.unmappedEvent()
		return model.INV{DeviceID: d, EventID: e}, pick(devMapped, model.E_ITS_INV_UNMAPPED_INTERRUPT, model.E_ITS_INV_UNMAPPED_DEVICE), true
	},
	func(g *generator) (model.Command, model.ErrorCode, bool) {
		return model.INVALL{ICID: genUnmappedICID}, model.E_ITS_INVALL_UNMAPPED_COLLECTION, true
	},
	func(g *generator) (model.Command, model.ErrorCode, bool) {
		return model.MOVALL{RDbase1: uint64(g.cpus), RDbase2: uint64(g.cpu())}, model.E_ITS_MOVALL_PROCNUM_OOR, true
	},
	func(g *generator) (model.Command, model.ErrorCode, bool) {
		d, e, devMapped := g.unmappedEvent()
		return model.DISCARD{DeviceID: d, EventID: e}, pick(devMapped, model.E_ITS_DISCARD_UNMAPPED_INTERRUPT, model.E_ITS_DISCARD_UNMAPPED_DEVICE), true
	},
}

// failing emits one failing command and the expect error it must raise.
func (g *generator) failing() {
	c, code, ok := failingCommands[g.rng.IntN(len(failingCommands))](g)
	if !ok {
		return
	}
	g.cmd(c)
	g.emit(&script.ExpectErrorStmt{At: g.at(), Code: code})
}

// mappedDevice picks a mapped device, if there is one.
func (g *generator) mappedDevice() (model.DeviceID, bool) {
	devs := g.mappedDevices()
	if len(devs) == 0 {
		return 0, false
	}
	return devs[g.rng.IntN(len(devs))], true
}

// unmappedEvent picks an event that no ITE maps: of a mapped device when
// one has a free EventID (devMapped), else of a device that is not mapped.
func (g *generator) unmappedEvent() (d model.DeviceID, e model.EventID, devMapped bool) {
	if d, ok := g.mappedDevice(); ok {
		e := model.EventID(g.rng.IntN(genEvents))
		_, virtual := g.v.events[d][e] // a GICv4 stream's: mapped too
		if _, mapped := g.events[d][e]; !mapped && !virtual {
			return d, e, true
		}
	}
	return genUnmappedDev, model.EventID(g.rng.IntN(genEvents)), false
}

// pick returns a when cond holds, else b.
func pick(cond bool, a, b model.ErrorCode) model.ErrorCode {
	if cond {
		return a
	}
	return b
}
